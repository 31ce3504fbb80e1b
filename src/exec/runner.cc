#include "exec/runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <filesystem>
#include <set>
#include <mutex>
#include <set>
#include <span>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/interrupt.h"
#include "core/text.h"
#include "exec/lake_claim.h"
#include "exec/lake_maintenance.h"
#include "exec/parser_source.h"
#include "exec/reader_task.h"
#include "exec/table_schema.h"
#include "exec/transforms.h"
#include "exec/dedup.h"
#include "exec/iceberg_table.h"
#include "exec/stream_metrics.h"
#include "exec/worker_output.h"
#include "io/file_identity.h"
#include "io/fs.h"
#include "io/input.h"
#include "io/segment_log.h"
#include "lake/file_writer.h"
#include "lake/partitioned_buffer.h"
#include "parse/multiline_splitter.h"
#include "parse/pattern_splitter.h"
#include "parse/projector.h"
#include "parse/splitter.h"
#include "plugin/plugin_loader.h"

namespace weir {
namespace stdfs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string TableDir(const DatasetConfig& c) { return c.write.location + "/" + c.write.table; }
std::string DataStagingDir(const DatasetConfig& c) {
  return c.write.location + "/_staging/" + c.write.table;
}
std::string ErrorsDir(const DatasetConfig& c) { return c.errors.location + "/" + c.name; }
std::string ErrorsStagingDir(const DatasetConfig& c) {
  return c.errors.location + "/_staging/" + c.name;
}
std::string StreamLogDir(const DatasetConfig& c) {
  return (stdfs::path(c.store).parent_path() / "streams" / c.name).string();
}

namespace {

void PruneEmptyDirs(const std::string& root) {
  std::error_code ec;
  if (!stdfs::exists(root, ec)) return;
  std::vector<stdfs::path> dirs;
  for (auto it = stdfs::recursive_directory_iterator(root, ec);
       !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) dirs.push_back(it->path());
  }
  // Deepest first, so parents empty out before they are looked at.
  std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) {
    return a.string().size() > b.string().size();
  });
  for (const auto& d : dirs) {
    if (stdfs::is_empty(d, ec)) stdfs::remove(d, ec);
  }
}

// What the executor of a stream task reads and when it stops (Runner::Run on a stream dataset).
struct StreamRun {
  SegmentLog* log = nullptr;  // the HTTP collector's log
  Store* store = nullptr;     // for write.compaction.auto in the background
  std::string run_tag;
  int64_t until_idle_ms = 0;
  uint64_t max_records = 0;
  StreamMetrics* metrics = nullptr;  // null: none kept
  std::string stopped;  // why the executor returned OK: set by it
};

// Reads one task from its checkpoint to the end of its file into a WorkerOutput, committing the
// output whenever it is due. A returned error means this task failed; the caller discards the
// worker's uncommitted output. With a StreamRun, the task is the HTTP collector's log instead:
// read as it grows, committed every stream.commit_interval, until a stop condition.
class TaskExecutor {
 public:
  // `parser` is the worker's SDK parser, or null for jsonl and csv.
  TaskExecutor(const DatasetConfig& cfg, RunProgress& progress, const TaskRow& task,
               const Transforms& transforms, WorkerOutput& out, sdk::Parser* parser,
               const sdk::RecordFormat* format, StreamRun* stream = nullptr)
      : cfg_(cfg), progress_(progress), task_(task), transforms_(transforms), out_(out),
        sdk_(parser), format_(format), stream_(stream) {}
  ~TaskExecutor() {
    if (compactor_.joinable()) compactor_.join();
  }

  Status Execute() {
    WEIR_RETURN_IF_ERROR(Prepare());
    if (stream_ != nullptr) return ExecuteStream();
    WEIR_RETURN_IF_ERROR(CheckTaskInputs(task_, {path_}, &input_id_));
    WEIR_ASSIGN_OR_RETURN(in_, OpenInput(path_));
    WEIR_RETURN_IF_ERROR(Position());
    return Loop();
  }

  // One record named by an error record: where its bytes are.
  struct ErrorRef {
    uint64_t start = 0, end = 0, number = 0;
  };

  // Record-level redrive: re-reads exactly the byte ranges of `refs` (sorted by start) and runs
  // them through the current parser and transforms into the worker's output. Counters move the
  // records from `errored` to whatever they are now; `read` does not change.
  Status Reprocess(const std::vector<ErrorRef>& refs, uint64_t* fixed, uint64_t* skipped,
                   uint64_t* still_failing) {
    WEIR_RETURN_IF_ERROR(Prepare());
    if (sdk_ == nullptr && cfg_.read.parser == "csv" && cfg_.read.csv_header) {
      // The header comes from its own stream: compressed streams only move forward.
      WEIR_ASSIGN_OR_RETURN(in_, OpenInput(path_));
      counters_.offset = 0;
      WEIR_RETURN_IF_ERROR(Position());
      counters_.offset = task_.counters.offset;
    }
    WEIR_ASSIGN_OR_RETURN(in_, OpenInput(path_));
    std::vector<std::string> bytes(refs.size());
    std::vector<RecordView> recs(refs.size());
    uint64_t pos = 0;
    for (size_t i = 0; i < refs.size(); ++i) {
      const ErrorRef& r = refs[i];
      if (r.start < pos) return Status::Corruption(task_.entry + ": overlapping error records");
      WEIR_RETURN_IF_ERROR(in_->SkipTo(r.start));
      bytes[i].resize(r.end - r.start);
      size_t got = 0;
      while (got < bytes[i].size()) {
        WEIR_ASSIGN_OR_RETURN(size_t n, in_->Read(bytes[i].data() + got, bytes[i].size() - got));
        if (n == 0) {
          return Status::Corruption(task_.entry + ": the file is shorter than error record at " +
                                    std::to_string(r.start) + "-" + std::to_string(r.end) +
                                    " says; was it changed?");
        }
        got += n;
      }
      pos = r.end;
      recs[i].bytes = bytes[i];
      if (format_ != nullptr && format_->kind == sdk::RecordFormat::Kind::kLengthPrefixed &&
          recs[i].bytes.size() >= static_cast<size_t>(format_->prefix_bytes)) {
        recs[i].bytes.remove_prefix(format_->prefix_bytes);  // the parser gets the payload only
      }
      recs[i].offset = r.start;
      recs[i].end_offset = r.end;
      recs[i].number = r.number;
    }
    std::string error_lines;
    uint64_t before_written = counters_.written, before_skipped = counters_.skipped;
    WEIR_RETURN_IF_ERROR(ProcessSlice(recs, error_lines));
    counters_.read -= recs.size();
    counters_.errored -= recs.size();
    *fixed += counters_.written - before_written;
    *skipped += counters_.skipped - before_skipped;
    *still_failing += std::count(error_lines.begin(), error_lines.end(), '\n');
    out_.Update(task_, counters_, task_.duration_ms, error_lines, std::nullopt);
    return Status::OK();
  }

 private:
  // What both a run and a record-level redrive of the task need: projector, file, splitter.
  Status Prepare() {
    started_ = Clock::now();
    WEIR_ASSIGN_OR_RETURN(projector_, Projector::Create(cfg_));
    path_ = task_.path;
    if (sdk_ != nullptr) {
      // A parser may map the manifest entry to the file to open.
      WEIR_ASSIGN_OR_RETURN(file_type_, SafeFileType(*sdk_));
      WEIR_ASSIGN_OR_RETURN(std::string resolved, SafeResolvePath(*sdk_, task_.entry));
      path_ = stdfs::path(resolved).is_absolute()
                  ? resolved
                  : (stdfs::path(cfg_.read.location) / resolved).lexically_normal().string();
    }
    splitter_ = NewSplitter();
    counters_ = task_.counters;
    return Status::OK();
  }

  std::unique_ptr<RecordSplitter> NewSplitter() const {
    if (sdk_ != nullptr) {
      sdk::Parser* parser = sdk_;
      return MakePatternSplitter(*format_, cfg_.read.max_record_bytes, [parser](std::string_view h) {
        auto n = SafeBodyLength(*parser, h);
        return n.ok() ? *n : int64_t{-1};
      });
    }
    if (cfg_.read.multiline) {  // jsonl: e.g. one pretty-printed JSON object per record
      return MakeMultilineSplitter(cfg_.read.multiline->start, cfg_.read.multiline->max_lines,
                                   cfg_.read.max_record_bytes);
    }
    return cfg_.read.parser == "csv" ? MakeCsvSplitter(cfg_.read.csv_delimiter, cfg_.read.csv_quote,
                                                       cfg_.read.max_record_bytes)
                                     : MakeLineSplitter(cfg_.read.max_record_bytes);
  }

  // Reads the CSV header if there is one and positions the stream at the checkpoint.
  Status Position() {
    buf_.clear();
    buf_base_ = 0;
    if (sdk_ == nullptr && cfg_.read.parser == "csv" && cfg_.read.csv_header) {
      std::vector<RecordView> recs;
      bool eof = false;
      while (recs.empty() && !eof) {
        WEIR_ASSIGN_OR_RETURN(eof, Fill());
        recs.clear();
        NewSplitter()->Split(buf_, eof, 0, 0, recs);
      }
      uint64_t header_end = 0;
      if (!recs.empty()) {
        WEIR_RETURN_IF_ERROR(
            projector_->SetCsvHeader(recs[0].bytes).WithContext(task_.entry + ": header row"));
        header_end = recs[0].end_offset;
      }
      if (counters_.offset < header_end) counters_.offset = header_end;
    }
    uint64_t target = counters_.offset;
    if (!buf_.empty() && target <= buf_base_ + buf_.size()) {
      buf_.erase(0, target - buf_base_);
    } else {
      buf_.clear();
      if (target > 0) WEIR_RETURN_IF_ERROR(in_->SkipTo(target));
    }
    buf_base_ = target;
    return Status::OK();
  }

  // Appends the next chunk of input to buf_; returns true at end of input.
  Result<bool> Fill() {
    constexpr size_t kChunk = 4 << 20;
    WEIR_RETURN_IF_ERROR(InjectedReadError());
    size_t old = buf_.size();
    buf_.resize(old + kChunk);
    WEIR_ASSIGN_OR_RETURN(size_t got, in_->Read(buf_.data() + old, kChunk));
    buf_.resize(old + got);
    uint64_t raw = in_->raw_bytes_read();
    progress_.raw_bytes.fetch_add(raw - raw_seen_);
    raw_seen_ = raw;
    return got == 0;
  }

  int64_t DurationMs() const {
    return task_.duration_ms +
           std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count();
  }

  Status Loop() {
    std::vector<RecordView> recs;
    std::string error_lines;
    bool eof = false;
    while (!eof) {
      WEIR_ASSIGN_OR_RETURN(eof, Fill());
      recs.clear();
      size_t consumed = splitter_->Split(buf_, eof, buf_base_, counters_.record_number, recs);
      if (eof && consumed != buf_.size()) {
        return Status::Internal(task_.entry + ": " + std::to_string(buf_.size() - consumed) +
                                " bytes left unsplit at end of input");
      }
      // Slices bound the batch size and let commits (roll_records, checkpoint_seconds) fall
      // between any two records, not only between read chunks.
      size_t i = 0;
      do {
        size_t n = std::min<size_t>(kSliceRecords, recs.size() - i);
        if (cfg_.write.roll_records > 0) {
          uint64_t room = cfg_.write.roll_records > out_.buffer().rows()
                              ? cfg_.write.roll_records - out_.buffer().rows() : 1;
          n = std::min<size_t>(n, room);
        }
        if (n > 0) {
          WEIR_RETURN_IF_ERROR(ProcessSlice(std::span<const RecordView>(recs.data() + i, n), error_lines));
          counters_.offset = counters_.bytes = recs[i + n - 1].end_offset;
          counters_.record_number += n;
          i += n;
        }
        bool done = eof && i == recs.size();
        WEIR_RETURN_IF_ERROR(CheckErrorRatio(cfg_, counters_, done));
        // Read to its end: record what was read (the bytes up to this end of file, not any
        // appended since), so a later run notices appended or rewritten input.
        if (done) input_id_ = ReadInputsIdentity({path_}, {in_->raw_bytes_read()});
        out_.Update(task_, counters_, DurationMs(), error_lines,
                    done ? std::optional<TaskStatus>(TaskStatus::kCompleted) : std::nullopt,
                    input_id_);
        if (!done && out_.ShouldCommit()) WEIR_RETURN_IF_ERROR(out_.Commit());
        // SIGINT/SIGTERM: stop between slices; the worker commits what this task has so far.
        if (!done && StopRequested()) return Status::Aborted(task_.entry + ": interrupted");
      } while (i < recs.size());
      buf_base_ += consumed;
      buf_.erase(0, consumed);
    }
    return Status::OK();
  }

  // A stream task: the collector's log from the checkpoint on, as it grows.
  Status ExecuteStream() {
    SegmentLog& log = *stream_->log;
    if (counters_.offset < log.Start()) {
      // The store forgot the log's position (--restart, a new store) while the log had been
      // trimmed past it: what the log still holds is all there is to read.
      spdlog::warn("{}: checkpoint {} is before the collector log's start {}; reading from there",
                   cfg_.name, counters_.offset, log.Start());
      counters_.offset = counters_.bytes = log.Start();
    }
    WEIR_RETURN_IF_ERROR(log.Trim(counters_.offset));
    WEIR_ASSIGN_OR_RETURN(in_, log.OpenReader(counters_.offset));
    WEIR_RETURN_IF_ERROR(Position());
    return StreamLoop();
  }

  static double Millis(Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
  }

  // Reads, commits at least every stream.commit_interval while data flows, and waits for more
  // when caught up; returns OK with stream_->stopped set at --until-idle / --max-records, and
  // Aborted at SIGINT/SIGTERM (the worker then commits what is pending, as for files).
  Status StreamLoop() {
    SegmentLog& log = *stream_->log;
    const double interval = static_cast<double>(cfg_.stream.commit_interval_ms);
    std::vector<RecordView> recs;
    std::string error_lines;
    uint64_t read_here = 0;
    Clock::time_point last_data = Clock::now(), last_commit = Clock::now();
    bool dirty = false;  // progress since the last commit
    const TaskCounters at_start = counters_;
    auto commit = [&]() -> Status {
      const Clock::time_point t0 = Clock::now();
      WEIR_RETURN_IF_ERROR(out_.Commit());
      last_commit = Clock::now();
      dirty = false;
      RecordCommit(at_start, std::chrono::duration<double>(last_commit - t0).count(),
                   log.DurableEnd());
      // Committed: the log need not keep what lies before the checkpoint.
      WEIR_RETURN_IF_ERROR(log.Trim(counters_.offset));
      MaybeCompact();
      return Status::OK();
    };
    auto stop = [&](std::string why) -> Status {
      stream_->stopped = std::move(why);
      return dirty ? commit() : Status::OK();
    };
    for (;;) {
      WEIR_ASSIGN_OR_RETURN(bool caught_up, Fill());
      recs.clear();
      size_t consumed = splitter_->Split(buf_, false, buf_base_, counters_.record_number, recs);
      size_t take = recs.size();
      if (stream_->max_records > 0) {
        take = std::min<uint64_t>(take, stream_->max_records - read_here);
      }
      for (size_t i = 0; i < take;) {
        const size_t n = std::min<size_t>(kSliceRecords, take - i);
        WEIR_RETURN_IF_ERROR(
            ProcessSlice(std::span<const RecordView>(recs.data() + i, n), error_lines));
        counters_.offset = counters_.bytes = recs[i + n - 1].end_offset;
        counters_.record_number += n;
        i += n;
        read_here += n;
        dirty = true;
        WEIR_RETURN_IF_ERROR(CheckErrorRatio(cfg_, counters_, false));
        out_.Update(task_, counters_, DurationMs(), error_lines, std::nullopt);
        if (out_.ShouldCommit()) WEIR_RETURN_IF_ERROR(commit());
      }
      if (stream_->max_records > 0 && read_here >= stream_->max_records) {
        return stop("read " + std::to_string(read_here) + " records (--max-records)");
      }
      buf_base_ += consumed;
      buf_.erase(0, consumed);
      if (!caught_up) {
        last_data = Clock::now();
        continue;
      }
      // Caught up with what is durable.
      if (dirty && Millis(last_commit) >= interval) WEIR_RETURN_IF_ERROR(commit());
      if (StopRequested()) return Status::Aborted(task_.entry + ": interrupted");
      if (stream_->until_idle_ms > 0 && Millis(last_data) >= static_cast<double>(stream_->until_idle_ms)) {
        return stop("no new data for " + FormatDurationMs(stream_->until_idle_ms) + " (--until-idle)");
      }
      if (stream_->metrics != nullptr) {
        const uint64_t end = log.DurableEnd();
        stream_->metrics->lag_bytes = end > counters_.offset ? end - counters_.offset : 0;
      }
      // Wake for new data, the commit that falls due, or a signal (checked every 50 ms).
      double wait = 50;
      if (dirty) wait = std::min(wait, std::max(1.0, interval - Millis(last_commit)));
      log.WaitBeyond(buf_base_ + buf_.size(), static_cast<int64_t>(wait));
    }
  }

  // StreamMetrics after a commit: the committed counters (this run's part), the commit's
  // latency, the lag, and each committed record's end-to-end latency.
  void RecordCommit(const TaskCounters& at_start, double commit_seconds, uint64_t durable_end) {
    StreamMetrics* m = stream_->metrics;
    if (m == nullptr) return;
    m->read = counters_.read - at_start.read;
    m->written = counters_.written - at_start.written;
    m->skipped = counters_.skipped - at_start.skipped;
    m->errored = counters_.errored - at_start.errored;
    m->duplicates = counters_.duplicates - at_start.duplicates;
    m->commits.fetch_add(1, std::memory_order_relaxed);
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    m->last_commit_unix_ms = now_ms;
    m->lag_bytes = durable_end > counters_.offset ? durable_end - counters_.offset : 0;
    m->commit_seconds.Observe(commit_seconds);
    for (int64_t t : event_ms_) m->end_to_end_seconds.Observe(static_cast<double>(now_ms - t) / 1000.0);
    event_ms_.clear();
  }

  // Keeps the event times of the rows just buffered (after dedup), for RecordCommit.
  void KeepEventTimes(const ColumnBatch& batch) {
    int col = -1;
    for (size_t c = 0; c < batch.schema.size() && col < 0; ++c) {
      const bool named = cfg_.write.dedup && !cfg_.write.dedup->time.empty();
      if (named ? batch.schema[c].name == cfg_.write.dedup->time
                : batch.schema[c].type == ColumnType::kTimestampMs) {
        col = static_cast<int>(c);
      }
    }
    if (col < 0) return;
    const ColumnBuffer& b = batch.columns[col];
    for (size_t r = 0; r < batch.num_rows(); ++r) {
      if (!b.IsNull(r)) event_ms_.push_back(b.Int64At(r));
    }
  }

  // write.compaction.auto on a stream: at most every write.compaction.interval, on its own
  // thread, so commits (and the visibility bound) go on while it runs; its commit is its own
  // snapshot and retries if it races with ours (exec/lake_maintenance.h).
  void MaybeCompact() {
    if (!cfg_.write.compaction_auto || compacting_.load()) return;
    if (compactions_ > 0 && Millis(last_compaction_) < static_cast<double>(cfg_.write.compaction_interval_ms)) {
      return;
    }
    if (compactions_ == 0 && Millis(started_) < static_cast<double>(cfg_.write.compaction_interval_ms)) {
      return;
    }
    if (compactor_.joinable()) compactor_.join();
    compacting_ = true;
    last_compaction_ = Clock::now();
    const std::string tag = stream_->run_tag + "-c" + std::to_string(++compactions_);
    compactor_ = std::thread([this, tag] {
      auto r = AutoCompact(cfg_, *stream_->store, tag);
      if (!r.ok()) {
        spdlog::warn("{}: write.compaction.auto: compaction failed (the data stays committed; it "
                     "is tried again after write.compaction.interval): {}",
                     cfg_.name, r.status().message());
      }
      compacting_ = false;
    });
  }

  Status ProcessSlice(std::span<const RecordView> recs, std::string& error_lines) {
    // One batch per task, cleared per slice: its buffers keep their capacity, so slices after
    // the first do not regrow (and page-fault) every column again.
    const size_t projected = projector_->schema().size();
    if (!slice_) slice_ = std::make_unique<ColumnBatch>(projector_->schema());
    ColumnBatch& batch = *slice_;
    batch.Clear();
    if (batch.columns.size() > projected) {  // the previous slice's transform outputs
      batch.columns.erase(batch.columns.begin() + static_cast<std::ptrdiff_t>(projected), batch.columns.end());
      batch.schema.erase(batch.schema.begin() + static_cast<std::ptrdiff_t>(projected), batch.schema.end());
    }
    skips_.clear();
    errors_.clear();
    size_t docs = sdk_ != nullptr ? ParseWithSdk(recs, batch) : projector_->Process(recs, batch, skips_, errors_);
    for (const RecordIssue& e : errors_) {
      AppendErrorRecord(error_lines, cfg_, task_.id, task_.entry, recs[e.record_index], e.reason,
                        sdk_ != nullptr);
    }
    // Transforms append their output columns, so the batch then matches the lake schema; rows
    // they reject (e.g. geo with on_invalid: error) become error records.
    rejected_.clear();
    transforms_.Apply(batch, rejected_);
    if (!rejected_.empty()) DropRejectedRows(recs, batch, error_lines);
    WEIR_ASSIGN_OR_RETURN(size_t duplicates, out_.Append(batch));
    if (stream_ != nullptr && stream_->metrics != nullptr) KeepEventTimes(batch);
    counters_.read += recs.size();
    counters_.written += docs - rejected_.size() - duplicates;
    counters_.skipped += skips_.size() + duplicates;
    counters_.duplicates += duplicates;
    counters_.errored += errors_.size() + rejected_.size();
    progress_.records.fetch_add(recs.size());
    return Status::OK();
  }

  // The SDK path: the user's (or a built-in) parser turns each record into a Document, which the
  // projector maps to columns with the dataset's JSON pointers and types.
  size_t ParseWithSdk(std::span<const RecordView> recs, ColumnBatch& batch) {
    size_t docs = 0;
    std::string reason;
    for (size_t i = 0; i < recs.size(); ++i) {
      const RecordView& r = recs[i];
      if (r.problem != nullptr) {
        errors_.push_back({i, r.problem});
        continue;
      }
      sdk::RecordContext ctx;
      ctx.file_type = file_type_;
      ctx.file_name = path_;
      ctx.offset = r.offset;
      ctx.record_number = r.number;
      doc_.Clear();
      sdk::ParseResult res = SafeParse(*sdk_, ctx, r.bytes, doc_);
      switch (res.kind) {
        case sdk::ParseResult::Kind::kSkip: skips_.push_back({i, std::move(res.reason)}); break;
        case sdk::ParseResult::Kind::kError: errors_.push_back({i, std::move(res.reason)}); break;
        case sdk::ParseResult::Kind::kContinue:
        case sdk::ParseResult::Kind::kFail:
          errors_.push_back({i, res.kind == sdk::ParseResult::Kind::kFail
                                    ? std::move(res.reason)
                                    : "parser returned Continue(), which only state machine "
                                      "parsers may"});
          break;
        case sdk::ParseResult::Kind::kDocument:
          if (projector_->ProjectDocument(doc_, batch, &reason)) {
            ++docs;
          } else {
            errors_.push_back({i, reason});
          }
          break;
      }
    }
    return docs;
  }

  // Maps rows that transforms rejected back to their records, writes their error records and
  // removes the rows from the batch.
  void DropRejectedRows(std::span<const RecordView> recs, ColumnBatch& batch, std::string& error_lines) {
    // Rows are the documents in record order: every record that was neither skipped nor errored.
    std::vector<uint8_t> not_doc(recs.size(), 0);
    for (const auto& e : errors_) not_doc[e.record_index] = 1;
    for (const auto& e : skips_) not_doc[e.record_index] = 1;
    std::vector<size_t> doc_records;
    for (size_t i = 0; i < recs.size(); ++i) {
      if (!not_doc[i]) doc_records.push_back(i);
    }
    std::vector<uint8_t> drop(batch.num_rows(), 0);
    for (const auto& [row, reason] : rejected_) {
      drop[row] = 1;
      AppendErrorRecord(error_lines, cfg_, task_.id, task_.entry, recs[doc_records[row]], reason,
                        sdk_ != nullptr);
    }
    RemoveRows(batch, drop);
  }

  static constexpr size_t kSliceRecords = 8192;
  const DatasetConfig& cfg_;
  RunProgress& progress_;
  TaskRow task_;
  const Transforms& transforms_;
  WorkerOutput& out_;
  std::unique_ptr<Projector> projector_;
  std::unique_ptr<RecordSplitter> splitter_;
  std::unique_ptr<InputStream> in_;
  std::string buf_;
  uint64_t buf_base_ = 0;
  uint64_t raw_seen_ = 0;
  TaskCounters counters_;
  Clock::time_point started_;
  std::vector<RecordIssue> skips_, errors_;
  std::unique_ptr<ColumnBatch> slice_;
  std::vector<std::pair<size_t, std::string>> rejected_;
  sdk::Parser* sdk_;
  const sdk::RecordFormat* format_;
  std::string path_, file_type_;
  std::string input_id_;  // input identity to record with the next commit, if any
  sdk::Document doc_;
  StreamRun* stream_ = nullptr;
  std::vector<int64_t> event_ms_;  // event times of the rows since the last commit (metrics)
  std::thread compactor_;  // write.compaction.auto on a stream (MaybeCompact)
  std::atomic<bool> compacting_{false};
  int compactions_ = 0;
  Clock::time_point last_compaction_;
};

}  // namespace

namespace {

// The lexically normal form of a manifest path: "./a.jsonl" and "sub/../a.jsonl" are "a.jsonl".
std::string NormalManifestPath(const std::string& p) {
  std::string n = stdfs::path(p).lexically_normal().string();
  return n.empty() ? "." : n;
}

std::string AbsoluteInputPath(const DatasetConfig& c, const std::string& p) {
  return stdfs::path(p).is_absolute() ? NormalManifestPath(p)
                                      : (stdfs::path(c.read.location) / p).lexically_normal().string();
}

// "dev:ino" of an existing file (symlinks followed), or "" when stat fails.
std::string DeviceInodeKey(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

}  // namespace

void AdoptStoredSpellings(std::vector<std::pair<std::string, std::string>>& entries,
                          const std::vector<TaskRow>& tasks, bool normalised_entries) {
  std::set<std::string> exact;
  std::map<std::string, std::string> by_path, by_normal;
  for (const TaskRow& t : tasks) {
    exact.insert(t.entry);
    by_path.emplace(t.path, t.entry);
    if (normalised_entries) by_normal.emplace(NormalManifestPath(t.entry), t.entry);
  }
  for (auto& [entry, path] : entries) {
    if (exact.count(entry)) continue;
    if (auto it = by_path.find(path); it != by_path.end()) {
      entry = it->second;
    } else if (auto n = by_normal.find(entry); n != by_normal.end()) {
      entry = n->second;
    }
  }
}

Result<std::vector<std::pair<std::string, std::string>>> ReadManifest(
    const DatasetConfig& c, const std::vector<sdk::RecordType>* multi_file_types) {
  const std::string& m = c.read.manifest;
  auto bad = [&](const std::string& why) { return Status::Invalid("read.manifest: " + m + ": " + why); };
  struct stat mst;
  if (::stat(m.c_str(), &mst) != 0) {
    const int err = errno;
    if (err == ENOENT) return bad("does not exist; it must list the input files, one per line");
    return bad(std::string(err == ELOOP ? "symlink loop: " : "") + std::strerror(err));
  }
  if (S_ISDIR(mst.st_mode)) {
    return bad("is a folder, not a file; it must be a text file listing the input files, one per line");
  }
  if (!S_ISREG(mst.st_mode)) return bad("is " + fs::NonRegularKind(mst.st_mode) + ", not a regular file");
  auto text = fs::ReadFile(m);
  if (!text.ok()) return Status::Invalid("read.manifest: " + text.status().message());
  std::string_view t = *text;
  // Editors on Windows start UTF-8 files with a byte order mark; it is not part of a file name.
  if (t.substr(0, 3) == "\xEF\xBB\xBF") t.remove_prefix(3);
  std::vector<std::pair<std::string, std::string>> out;
  // Duplicate detection: the same absolute normal path, or (existing files) the same device and
  // inode, so a symlinked or hard-linked alias counts too. A file listed twice would be loaded
  // twice, each copy as its own task.
  std::map<std::string, std::pair<size_t, std::string>> by_path, by_inode;  // -> (line, as written)
  std::string dups;
  size_t ndups = 0;
  size_t pos = 0, line_no = 0;
  while (pos <= t.size()) {
    size_t nl = t.find('\n', pos);
    if (nl == std::string_view::npos) nl = t.size();
    std::string line(t.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    line = line.substr(b);
    std::string entry = line, abs, path_key, inode_key;
    if (multi_file_types != nullptr) {
      // Entries name several files ("WARC:a.warc.gz|CDX:a.cdx"); the runner resolves them. An
      // entry that does not split stays as written and its task fails with the reason.
      auto parts = MultiFileEntryPaths(c, line, *multi_file_types);
      abs = AbsoluteInputPath(c, line);
      path_key = line;
      if (parts.ok()) {
        path_key.clear();
        bool all_exist = true;
        for (const std::string& p : *parts) {
          const std::string id = DeviceInodeKey(p);
          all_exist = all_exist && !id.empty();
          path_key += p + "|";
          inode_key += id + "|";
        }
        if (!all_exist) inode_key.clear();
      }
    } else {
      entry = NormalManifestPath(line);
      abs = AbsoluteInputPath(c, entry);
      path_key = abs;
      inode_key = DeviceInodeKey(abs);
    }
    const std::pair<size_t, std::string>* first = nullptr;
    if (auto it = by_path.find(path_key); it != by_path.end()) first = &it->second;
    if (!first && !inode_key.empty()) {
      if (auto it = by_inode.find(inode_key); it != by_inode.end()) first = &it->second;
    }
    if (first != nullptr) {
      if (ndups++ < 10) {
        dups += std::string(dups.empty() ? "" : "\n") + "read.manifest: " + m + ": manifest line " +
                std::to_string(line_no) + ": '" + line + "' is the same file as line " +
                std::to_string(first->first) + " ('" + first->second + "')";
      }
      continue;
    }
    by_path.emplace(path_key, std::make_pair(line_no, line));
    if (!inode_key.empty()) by_inode.emplace(inode_key, std::make_pair(line_no, line));
    out.emplace_back(entry, abs);
  }
  if (ndups > 0) {
    if (ndups > 10) dups += "\n... and " + std::to_string(ndups - 10) + " more";
    return Status::Invalid(dups + "\nlist every input file once (a file listed twice would be loaded twice)");
  }
  if (out.empty()) return bad("lists no input files (only blank lines and # comments); add one path per line");
  return out;
}

Result<std::unique_ptr<DatasetLock>> DatasetLock::Acquire(const DatasetConfig& c, bool wait) {
  std::string dir = stdfs::path(c.store).parent_path().string();
  WEIR_RETURN_IF_ERROR(fs::CreateDirs(dir));
  std::string path = dir + "/" + c.name + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("opening lock " + path, false);
  if (::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    ::close(fd);
    return Status::Aborted("dataset '" + c.name + "' is being run by another weir process (lock " +
                           path + " is held); wait for it to finish");
  }
  return std::unique_ptr<DatasetLock>(new DatasetLock(fd));
}

DatasetLock::~DatasetLock() { ::close(fd_); }

Status RecoverPublications(const DatasetConfig& config, Store& store) {
  WEIR_ASSIGN_OR_RETURN(auto pending, store.Files(config.name, "", "pending"));
  std::vector<int64_t> done;
  for (const CatalogFile& f : pending) {
    WEIR_RETURN_IF_ERROR(CheckDatasetOutputPath(config, f.path));
    WEIR_RETURN_IF_ERROR(CheckDatasetOutputPath(config, f.staging));
    if (fs::Exists(f.staging)) {
      WEIR_RETURN_IF_ERROR(fs::Rename(f.staging, f.path));
    } else if (!fs::Exists(f.path)) {
      return Status::Corruption("committed file " + f.path + " is neither staged at " + f.staging +
                                " nor published; the lake has lost data of task " +
                                std::to_string(f.task_id));
    }
    done.push_back(f.id);
  }
  if (!done.empty()) {
    WEIR_RETURN_IF_ERROR(fs::SyncFilesystem(pending.front().path));
    WEIR_RETURN_IF_ERROR(store.MarkPublished(done));
  }
  WEIR_RETURN_IF_ERROR(DeleteSuperseded(config, store));
  // Whatever is still staged was never committed: a crash before its commit. Discard it.
  WEIR_RETURN_IF_ERROR(fs::RemoveTree(DataStagingDir(config)));
  WEIR_RETURN_IF_ERROR(fs::RemoveTree(ErrorsStagingDir(config)));
  return RecoverIcebergTable(config, store);
}

namespace {

// Opens the dataset's Iceberg table for a run or redrive (null for Hive tables). A table written
// as Hive files before Iceberg became the default is not silently mixed with Iceberg files.
Result<std::unique_ptr<IcebergTable>> OpenIcebergTable(const DatasetConfig& config, Store& store,
                                                       const std::vector<ColumnSchema>& schema,
                                                       const std::string& run_tag) {
  if (!UsesIceberg(config)) return std::unique_ptr<IcebergTable>();
  WEIR_ASSIGN_OR_RETURN(auto row, store.IcebergTable(kIcebergNamespace, config.write.table));
  if (!row) {
    WEIR_ASSIGN_OR_RETURN(auto published, store.Files(config.name, "data", "published"));
    if (!published.empty()) {
      return Status::Invalid(
          "table " + config.write.table + " holds " + std::to_string(published.size()) +
          " data file(s) written as a Hive table (before Iceberg tables became the default for "
          "Parquet). Set write.table_format: hive to keep writing it that way, or `weir run "
          "--restart` to write it again as an Iceberg table");
    }
  }
  return IcebergTable::Open(config, store, schema, run_tag);
}

}  // namespace

Result<ErrorRedriveSummary> Runner::RedriveErrors() {
  WEIR_ASSIGN_OR_RETURN(auto lock, DatasetLock::Acquire(config_, false));
  WEIR_RETURN_IF_ERROR(ClaimOutputs(config_, store_));
  WEIR_RETURN_IF_ERROR(RecoverPublications(config_, store_));
  WEIR_RETURN_IF_ERROR(EnsureTableSchema(config_, store_));  // exec/table_schema.h
  WEIR_ASSIGN_OR_RETURN(auto transforms, Transforms::Create(config_));
  std::unique_ptr<ParserSource> source;
  ParserPtr parser;
  StateMachinePtr state_machine;
  MultiFileReaderPtr multi_file_reader;
  if (ParserSource::UsesSdk(config_)) {
    WEIR_ASSIGN_OR_RETURN(source, ParserSource::Create(config_));
    switch (source->shape()) {
      case Shape::kParser: {
        WEIR_ASSIGN_OR_RETURN(parser, source->NewParser());
        break;
      }
      case Shape::kStateMachine: {
        WEIR_ASSIGN_OR_RETURN(state_machine, source->NewStateMachine());
        break;
      }
      case Shape::kMultiFile: {
        WEIR_ASSIGN_OR_RETURN(multi_file_reader, source->NewMultiFile());
        break;
      }
    }
  }
  const bool multi_record = source && source->shape() != Shape::kParser;
  std::vector<ColumnSchema> schema;
  {
    WEIR_ASSIGN_OR_RETURN(auto probe, Projector::Create(config_));
    schema = probe->schema();
    for (const auto& c : transforms->output_columns()) schema.push_back(c);
  }
  WEIR_ASSIGN_OR_RETURN(auto files, store_.Files(config_.name, "errors", "published"));
  std::map<int64_t, std::vector<TaskExecutor::ErrorRef>> refs;
  std::map<int64_t, std::vector<std::string>> lines;  // multi-record readers: the whole records
  std::map<int64_t, std::vector<int64_t>> file_ids;
  for (const auto& f : files) {
    WEIR_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(f.path));
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      std::string_view line(text.data() + pos, nl - pos);
      pos = nl + 1;
      if (line.empty()) continue;
      if (multi_record) lines[f.task_id].emplace_back(line);
      // Our own JSON lines: the three numbers are read by key.
      auto num = [&](std::string_view key) -> uint64_t {
        std::string k = "\"" + std::string(key) + "\":";
        size_t at = line.find(k);
        return at == std::string_view::npos ? 0 : std::strtoull(line.data() + at + k.size(), nullptr, 10);
      };
      refs[f.task_id].push_back({num("start_offset"), num("end_offset"), num("record_number")});
    }
    file_ids[f.task_id].push_back(f.id);
  }
  ErrorRedriveSummary summary;
  std::string tag = "redrive-" + std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count());
  WEIR_ASSIGN_OR_RETURN(auto iceberg, OpenIcebergTable(config_, store_, schema, tag));
  WorkerOutput out(config_, store_, schema, tag, iceberg.get());
  auto dedup = DedupIndex::Create(config_, store_);
  out.set_dedup(dedup.get());
  for (auto& [task_id, list] : refs) {
    std::sort(list.begin(), list.end(),
              [](const auto& a, const auto& b) { return a.start < b.start; });
    WEIR_ASSIGN_OR_RETURN(TaskRow task, store_.Task(task_id));
    summary.records += list.size();
    Status st;
    if (multi_record) {
      ReaderTaskExecutor exec(config_, progress_, task, *transforms, out, *source,
                              {state_machine.get(), multi_file_reader.get()});
      st = exec.Reprocess(lines[task_id], &summary.fixed, &summary.skipped, &summary.still_failing);
    } else {
      TaskExecutor exec(config_, progress_, task, *transforms, out, parser.get(),
                        source ? &source->format() : nullptr);
      st = exec.Reprocess(list, &summary.fixed, &summary.skipped, &summary.still_failing);
    }
    if (!st.ok()) return st.WithContext("redrive of the error records of task " + std::to_string(task_id));
    out.Supersede(file_ids[task_id]);
    WEIR_RETURN_IF_ERROR(out.Commit());
  }
  WEIR_ASSIGN_OR_RETURN(summary.tasks, store_.Tasks(config_.name));
  return summary;
}

Result<RunSummary> Runner::Run(const RunOptions& options) {
  auto t0 = Clock::now();
  WEIR_ASSIGN_OR_RETURN(auto lock, DatasetLock::Acquire(config_, false));
  // Before anything is written or deleted: are the output folders this dataset's own?
  WEIR_RETURN_IF_ERROR(ClaimOutputs(config_, store_));
  // What can be wrong with the config or the manifest is found before a restart deletes
  // anything: parser, manifest, transforms.
  std::unique_ptr<ParserSource> source;
  if (ParserSource::UsesSdk(config_)) {
    WEIR_ASSIGN_OR_RETURN(source, ParserSource::Create(config_));
  }
  const bool multi_file = source && source->shape() == Shape::kMultiFile;
  const bool stream = config_.IsStream();
  std::vector<std::pair<std::string, std::string>> entries;
  if (stream) {
    // The HTTP collector's log is one task; its checkpoint is the log's global offset.
    entries.emplace_back(kCollectorTaskEntry, StreamLogDir(config_));
  } else {
    WEIR_ASSIGN_OR_RETURN(entries, ReadManifest(config_, multi_file ? &source->types() : nullptr));
  }
  if (multi_file) {
    // A task's path lists every file of the entry, absolute; an entry that does not split
    // keeps its text, and its task fails with the reason when it runs.
    for (auto& [entry, path] : entries) {
      auto parts = MultiFileEntryPaths(config_, entry, source->types());
      if (!parts.ok()) continue;
      path.clear();
      for (size_t i = 0; i < parts->size(); ++i) {
        path += (i ? "|" : "") + source->types()[i].name + ":" + (*parts)[i];
      }
    }
  }
  WEIR_ASSIGN_OR_RETURN(auto transforms, Transforms::Create(config_));
  if (options.restart) {
    // Nothing is reset while the catalog names a file this dataset must not delete (a store
    // copied from another project folder before paths were relative).
    WEIR_ASSIGN_OR_RETURN(auto all_files, store_.Files(config_.name, "", ""));
    for (const auto& f : all_files) WEIR_RETURN_IF_ERROR(CheckDatasetOutputPath(config_, f.path));
    // Crash-safe: one transaction forgets the tasks and marks every file superseded; only then
    // are files deleted (by the recovery below, or by the next run's after a crash).
    std::optional<std::pair<std::string, std::string>> iceberg_table;
    if (UsesIceberg(config_)) iceberg_table.emplace(kIcebergNamespace, config_.write.table);
    WEIR_RETURN_IF_ERROR(store_.ResetDataset(config_.name, iceberg_table));
    CrashPoint("after-reset", 0);
  }
  WEIR_RETURN_IF_ERROR(RecoverPublications(config_, store_));
  if (options.restart) {
    PruneEmptyDirs(TableDir(config_));
    PruneEmptyDirs(ErrorsDir(config_));
  }
  WEIR_RETURN_IF_ERROR(EnsureTableSchema(config_, store_));  // exec/table_schema.h
  {
    WEIR_ASSIGN_OR_RETURN(auto known, store_.Tasks(config_.name));
    AdoptStoredSpellings(entries, known, !multi_file);
  }
  WEIR_RETURN_IF_ERROR(store_.EnsureTasks(config_.name, entries));
  WEIR_ASSIGN_OR_RETURN(auto tasks, store_.Tasks(config_.name));
  RunSummary summary;
  std::map<int64_t, TaskCounters> before;  // to report what this run added
  for (const auto& t : tasks) before[t.id] = t.counters;
  int64_t last_file_before = 0;  // data files with larger ids are this run's
  {
    WEIR_ASSIGN_OR_RETURN(auto files, store_.Files(config_.name, "data", ""));
    for (const auto& f : files) last_file_before = std::max(last_file_before, f.id);
  }

  std::map<std::string, std::string> manifest_paths(entries.begin(), entries.end());
  std::set<std::string> manifest_files;  // a task from an older spelling of an entry matches by path
  for (const auto& [entry, path] : entries) manifest_files.insert(path);
  std::deque<TaskRow> queue;
  for (auto& t : tasks) {
    auto in_manifest = manifest_paths.find(t.entry);
    if (in_manifest == manifest_paths.end() && !manifest_files.count(t.path)) {
      // The entry left the manifest: its committed rows stay, the task is not run any more.
      if (t.status != TaskStatus::kCompleted && t.status != TaskStatus::kRetired) {
        WEIR_RETURN_IF_ERROR(store_.SetStatus(
            t.id, TaskStatus::kRetired,
            "manifest entry removed (was " + std::string(TaskStatusName(t.status)) +
                "); its committed rows stay in the lake; put the entry back to resume it"));
      }
      continue;
    }
    // The manifest resolves paths anew each run (a moved project folder reads its own files).
    if (in_manifest != manifest_paths.end() && in_manifest->second != t.path) {
      WEIR_RETURN_IF_ERROR(store_.SetTaskPath(t.id, in_manifest->second));
      t.path = in_manifest->second;
    }
    if (t.status == TaskStatus::kRetired) {
      WEIR_RETURN_IF_ERROR(store_.SetStatus(t.id, TaskStatus::kCreated, "manifest entry back"));
      t.status = TaskStatus::kCreated;
    }
    if (t.status == TaskStatus::kCompleted) {
      // Inputs read to their end that changed since: appended bytes can be read (--rescan);
      // rewritten ones are reported, since their old rows are committed.
      for (const FileIdentity& id : FileIdentitiesFromJson(t.input_id)) {
        FileComparison c = CompareFile(id.path, id);
        if (c.change == FileChange::kAppended && options.rescan) {
          WEIR_RETURN_IF_ERROR(
              store_.SetStatus(t.id, TaskStatus::kCreated, "rescan: " + id.path + ": " + c.detail));
          t.status = TaskStatus::kCreated;
          break;
        }
        if (c.change == FileChange::kAppended) {
          summary.warnings.push_back("input " + id.path + " of completed task " + std::to_string(t.id) +
                                     " grew after it was read (" + c.detail +
                                     "): `weir run --rescan` reads the appended bytes");
        } else if (c.change == FileChange::kRewritten || c.change == FileChange::kTruncated) {
          summary.warnings.push_back(
              "input " + id.path + " of completed task " + std::to_string(t.id) +
              " changed after it was read: " + c.detail +
              "; the lake holds the rows of the old content. `weir run --restart` loads the "
              "dataset again from the files as they are now");
        }
      }
    }
    bool run = t.status == TaskStatus::kCreated || t.status == TaskStatus::kRunning ||
               t.status == TaskStatus::kInterrupted ||
               (options.redrive && t.status == TaskStatus::kError);
    if (!run) continue;
    queue.push_back(t);
    std::vector<std::string> inputs{t.path};
    if (multi_file) {
      auto parts = SplitMultiFileEntry(t.path, source->types());
      inputs = parts.ok() ? *parts : std::vector<std::string>{};
    }
    for (const auto& in : inputs) {
      std::error_code ec;
      auto size = stdfs::file_size(in, ec);
      if (!ec) progress_.raw_bytes_total += size;
    }
  }
  progress_.tasks_total = queue.size();
  summary.tasks_run = queue.size();

  std::mutex mu;
  std::vector<ColumnSchema> schema;
  {
    WEIR_ASSIGN_OR_RETURN(auto probe, Projector::Create(config_));
    schema = probe->schema();
    for (const auto& c : transforms->output_columns()) schema.push_back(c);
  }
  // Unique per run and worker, so file names never collide with earlier runs' files.
  const std::string run_tag = [] {
    char b[32];
    std::snprintf(b, sizeof(b), "%llx", static_cast<unsigned long long>(
        std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::system_clock::now().time_since_epoch()).count()));
    return std::string(b);
  }();
  WEIR_ASSIGN_OR_RETURN(auto iceberg, OpenIcebergTable(config_, store_, schema, run_tag));
  // A stream: open the collector's log where the task's checkpoint is, and start accepting.
  StreamRun stream_run;
  std::unique_ptr<SegmentLog> stream_log;
  std::function<void()> stop_collector;
  struct StopCollector {
    std::function<void()>& stop;
    ~StopCollector() {
      if (stop) stop();
    }
  } stop_collector_at_exit{stop_collector};
  if (stream) {
    uint64_t checkpoint = 0;
    for (const TaskRow& t : tasks) {
      if (t.entry == kCollectorTaskEntry) checkpoint = t.counters.offset;
    }
    SegmentLog::Options lo;
    lo.dir = StreamLogDir(config_);
    lo.start_offset = checkpoint;
    WEIR_ASSIGN_OR_RETURN(stream_log, SegmentLog::Open(lo));
    if (stream_log->DurableEnd() < checkpoint) {
      return Status::Corruption(
          "the collector log " + lo.dir + " ends at offset " + std::to_string(stream_log->DurableEnd()) +
          " but the lake has committed up to " + std::to_string(checkpoint) +
          ": the log was replaced or lost acknowledged data. Move the folder away to start a new "
          "log after the checkpoint");
    }
    stream_run.log = stream_log.get();
    stream_run.store = &store_;
    stream_run.run_tag = run_tag;
    stream_run.until_idle_ms = options.until_idle_ms;
    stream_run.max_records = options.max_records;
    stream_run.metrics = options.stream_metrics;
    if (options.start_collector) {
      WEIR_ASSIGN_OR_RETURN(stop_collector, options.start_collector(*stream_log));
    }
    summary.stream = true;
  }
  std::map<int64_t, int> attempts_made;
  // The workers commit together: one file per partition and one snapshot per commit.
  CommitGroup group;
  auto dedup = DedupIndex::Create(config_, store_);
  auto worker = [&](int index) {
    WorkerOutput out(config_, store_, schema, run_tag + "-" + std::to_string(index), iceberg.get());
    out.set_group(&group);
    out.set_dedup(dedup.get());
    if (stream) out.set_commit_seconds(static_cast<double>(config_.stream.commit_interval_ms) / 1000.0);
    group.Join(&out);
    struct Leave {
      CommitGroup& g;
      WorkerOutput* o;
      ~Leave() { g.Leave(o); }
    } leave{group, &out};
    ParserPtr parser;
    StateMachinePtr state_machine;
    MultiFileReaderPtr multi_file_reader;
    if (source) {
      // Create() already built one instance with the same options, so this does not fail in
      // practice; if it does, the worker's tasks wait in the queue for another worker.
      switch (source->shape()) {
        case Shape::kParser: {
          auto p = source->NewParser();
          if (!p.ok()) return;
          parser = std::move(p).value();
          break;
        }
        case Shape::kStateMachine: {
          auto p = source->NewStateMachine();
          if (!p.ok()) return;
          state_machine = std::move(p).value();
          break;
        }
        case Shape::kMultiFile: {
          auto p = source->NewMultiFile();
          if (!p.ok()) return;
          multi_file_reader = std::move(p).value();
          break;
        }
      }
    }
    auto fail_interval = [&](int64_t failed_task) {
      // Tasks whose uncommitted output is dropped go back to the queue to resume from their
      // checkpoints; the failed task itself is handled by the caller.
      std::vector<int64_t> ids = out.PendingTasks();
      out.Discard();
      std::lock_guard<std::mutex> l(mu);
      for (int64_t id : ids) {
        if (id == failed_task) continue;
        auto t = store_.Task(id);
        if (t.ok()) {
          queue.push_front(*t);
          progress_.tasks_done--;
        }
      }
    };
    auto commit_now = [&](bool request = true) {
      Status st = out.Commit(request);
      if (st.ok()) return;
      // A failed commit fails every task in it; they resume from their checkpoints on redrive.
      std::vector<int64_t> ids = out.PendingTasks();
      out.Discard();
      for (int64_t id : ids) {
        (void)store_.SetStatus(id, TaskStatus::kError, "commit failed: " + st.message());
      }
      progress_.tasks_failed += ids.size();
    };
    for (;;) {
      TaskRow task;
      {
        std::lock_guard<std::mutex> l(mu);
        if (queue.empty() || StopRequested()) break;
        task = queue.front();
        queue.pop_front();
      }
      bool interrupted = false;
      for (;;) {
        Status st = store_.StartAttempt(task.id);
        if (st.ok()) {
          // Each attempt resumes from the durable checkpoint, not from in-memory progress.
          auto fresh = store_.Task(task.id);
          if (fresh.ok()) task = *fresh;
          if (source && source->shape() != Shape::kParser) {
            ReaderTaskExecutor exec(config_, progress_, task, *transforms, out, *source,
                                    {state_machine.get(), multi_file_reader.get()});
            st = exec.Execute();
          } else {
            TaskExecutor exec(config_, progress_, task, *transforms, out, parser.get(),
                              source ? &source->format() : nullptr,
                              stream ? &stream_run : nullptr);
            st = exec.Execute();
          }
        }
        if (st.ok()) break;
        if (StopRequested()) {
          // What the task read so far is consistent with its pending checkpoint: keep it, and
          // commit it below with the rest of this worker's output.
          interrupted = true;
          break;
        }
        fail_interval(task.id);
        int attempt;
        {
          std::lock_guard<std::mutex> l(mu);
          attempt = attempts_made[task.id]++;
        }
        if (st.retryable() && attempt < config_.compute.retries) {
          (void)store_.SetStatus(task.id, TaskStatus::kRunning, "retrying after: " + st.message());
          std::this_thread::sleep_for(std::chrono::milliseconds(100 << std::min(attempt, 5)));
          continue;
        }
        std::string reason = st.message();
        if (st.retryable()) reason += " (gave up after " + std::to_string(attempt + 1) + " attempts)";
        (void)store_.SetStatus(task.id, TaskStatus::kError, reason);
        progress_.tasks_failed++;
        break;
      }
      if (interrupted) {
        commit_now();
        auto now = store_.Task(task.id);
        if (now.ok() && now->status == TaskStatus::kRunning) {
          (void)store_.SetStatus(task.id, TaskStatus::kInterrupted,
                                 std::string("interrupted by ") +
                                     (StopSignal() == SIGINT ? "SIGINT" : "SIGTERM") +
                                     "; `weir run` resumes it from its checkpoint");
        }
        break;
      }
      progress_.tasks_done++;
      bool last;
      {
        std::lock_guard<std::mutex> l(mu);
        last = queue.empty();
      }
      // Out of tasks: join the others' next commit instead of forcing one (the last worker to
      // finish commits everything together). Due by size or time: commit now.
      if (out.ShouldCommit()) {
        commit_now();
      } else if (last) {
        commit_now(/*request=*/StopRequested());
      }
    }
    // Whatever is still buffered (the queue emptied while this worker ran its last task).
    commit_now(/*request=*/StopRequested());
  };
  // A stream has one log and one task: one worker reads it in order.
  int n = stream ? 1 : options.workers > 0 ? options.workers : config_.compute.workers;
  n = std::max(1, std::min<int>(n, static_cast<int>(std::max<size_t>(1, queue.size()))));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();
  if (stream) {
    // Stop accepting before the summary: what arrives later waits in the log for the next run.
    if (stop_collector) std::exchange(stop_collector, nullptr)();
    summary.stopped = stream_run.stopped;
    if (!stream_run.stopped.empty()) {
      for (const TaskRow& t : tasks) {
        auto now = store_.Task(t.id);
        if (now.ok() && now->status == TaskStatus::kRunning) {
          (void)store_.SetStatus(t.id, TaskStatus::kInterrupted,
                                 "stream stopped: " + stream_run.stopped +
                                     "; `weir run` goes on from offset " +
                                     std::to_string(now->counters.offset));
        }
      }
    }
  }
  // write.compaction.auto (exec/lake_maintenance.h): its own snapshot after the run's commits; a
  // failure leaves the committed data as it is and is reported, not fatal.
  if (config_.write.compaction_auto && StopSignal() == 0) {
    auto compacted = AutoCompact(config_, store_, run_tag);
    if (!compacted.ok()) {
      summary.warnings.push_back("write.compaction.auto: compaction failed (the run's data is "
                                 "committed; `weir lake compact` retries): " +
                                 compacted.status().message());
    }
  }

  WEIR_ASSIGN_OR_RETURN(summary.tasks, store_.Tasks(config_.name));
  summary.all_completed = true;
  for (const auto& t : summary.tasks) {
    summary.all_completed &= t.status == TaskStatus::kCompleted || t.status == TaskStatus::kRetired;
    // This run's work, from the task table itself (retried and discarded work is not counted).
    auto b = before.find(t.id);
    TaskCounters zero;
    const TaskCounters& was = b == before.end() ? zero : b->second;
    summary.read += t.counters.read - std::min(t.counters.read, was.read);
    summary.written += t.counters.written - std::min(t.counters.written, was.written);
    summary.skipped += t.counters.skipped - std::min(t.counters.skipped, was.skipped);
    summary.errored += t.counters.errored - std::min(t.counters.errored, was.errored);
    summary.duplicates += t.counters.duplicates - std::min(t.counters.duplicates, was.duplicates);
  }
  {
    WEIR_ASSIGN_OR_RETURN(auto files, store_.Files(config_.name, "data", ""));
    for (const auto& f : files) {
      if (f.id > last_file_before) summary.files_per_partition[f.partition]++;
    }
  }
  summary.interrupted_by = StopSignal();
  summary.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return summary;
}

}  // namespace weir
