#include "exec/task_executor.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <span>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/interrupt.h"
#include "core/text.h"
#include "exec/lake_maintenance.h"
#include "io/fs.h"
#include "exec/parser_source.h"
#include "exec/runner.h"
#include "exec/stream_metrics.h"
#include "exec/transforms.h"
#include "exec/worker_output.h"
#include "io/input.h"
#include "io/segment_log.h"
#include "lake/partitioned_buffer.h"
#include "parse/multiline_splitter.h"
#include "parse/pattern_splitter.h"
#include "parse/projector.h"
#include "parse/splitter.h"
#include "plugin/plugin_loader.h"

namespace weir {
namespace stdfs = std::filesystem;
using Clock = std::chrono::steady_clock;

class TaskExecutor::Impl {
 public:
  // `parser` is the worker's SDK parser, or null for jsonl and csv.
  Impl(const DatasetConfig& cfg, RunProgress& progress, const TaskRow& task,
       const Transforms& transforms, WorkerOutput& out, sdk::Parser* parser,
       const sdk::RecordFormat* format, StreamRun* stream)
      : cfg_(cfg), progress_(progress), task_(task), transforms_(transforms), out_(out),
        sdk_(parser), format_(format), stream_(stream) {}

  Status Execute() {
    WEIR_RETURN_IF_ERROR(Prepare());
    if (stream_ != nullptr) return ExecuteStream();
    WEIR_RETURN_IF_ERROR(CheckTaskInputs(task_, {path_}, &input_id_));
    WEIR_ASSIGN_OR_RETURN(in_, OpenInput(path_));
    WEIR_RETURN_IF_ERROR(Position());
    return Loop();
  }

  using ErrorRef = TaskExecutor::ErrorRef;

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
    if (stream_ != nullptr && !compactor_) {
      compactor_ = std::make_unique<BackgroundCompactor>(cfg_, *stream_->store);
    }
    WEIR_ASSIGN_OR_RETURN(projector_, Projector::Create(cfg_));
    path_ = task_.path;
    if (sdk_ != nullptr) {
      // A parser may map the manifest entry to the file to open.
      WEIR_ASSIGN_OR_RETURN(file_type_, SafeFileType(*sdk_));
      WEIR_ASSIGN_OR_RETURN(std::string resolved, SafeResolvePath(*sdk_, task_.entry));
      path_ = fs::ResolveInput(cfg_.read.location, resolved);
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
    // Read into a scratch chunk, not into buf_ grown by kChunk: growing a string zero-fills
    // it, and a stream's Fill often gets a few KB (a collector request) for 4 MB zeroed. That
    // memset was 18% of the collector's CPU.
    if (!chunk_) chunk_ = std::make_unique_for_overwrite<char[]>(kChunk);
    WEIR_ASSIGN_OR_RETURN(size_t got, in_->Read(chunk_.get(), kChunk));
    buf_.append(chunk_.get(), got);
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
    if (stream_->metrics != nullptr) event_sink_ = &event_ms_;
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
    Status st = StreamLoop();
    // A commit still in flight (stream.pipeline) reports into this executor: settle it first.
    Status settled = out_.WaitCommitted();
    if (st.ok()) return settled;
    if (!settled.ok()) spdlog::error("{}: the last commit failed too: {}", cfg_.name, settled.ToString());
    return st;
  }

 public:
  // Message sources (TaskExecutor::Feed).
  Status Open() { return Prepare(); }
  Status Feed(std::span<const RecordView> recs, uint64_t next_offset) {
    std::string error_lines;
    for (size_t i = 0; i < recs.size();) {
      const size_t n = std::min<size_t>(kSliceRecords, recs.size() - i);
      WEIR_RETURN_IF_ERROR(ProcessSlice(recs.subspan(i, n), error_lines));
      i += n;
    }
    counters_.offset = counters_.bytes = counters_.record_number = next_offset;
    WEIR_RETURN_IF_ERROR(CheckErrorRatio(cfg_, counters_, false));
    out_.Update(task_, counters_, DurationMs(), error_lines, std::nullopt);
    return Status::OK();
  }
  void Skip(uint64_t n, uint64_t next_offset) {
    std::string none;
    counters_.read += n;
    counters_.skipped += n;
    counters_.offset = counters_.bytes = counters_.record_number = next_offset;
    progress_.records.fetch_add(n);
    out_.Update(task_, counters_, DurationMs(), none, std::nullopt);
  }
  const TaskCounters& counters() const { return counters_; }

 private:
  static double Millis(Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
  }

  // Reads, commits at least every stream.commit_interval while data flows (while behind, by
  // size or every stream.catch_up_interval), and waits for more when caught up; returns OK
  // with stream_->stopped set at --until-idle / --max-records, and Aborted at SIGINT/SIGTERM
  // (the worker then commits what is pending, as for files).
  Status StreamLoop() {
    SegmentLog& log = *stream_->log;
    const double interval = static_cast<double>(cfg_.stream.commit_interval_ms);
    std::vector<RecordView> recs;
    std::string error_lines;
    uint64_t read_here = 0;
    Clock::time_point last_data = Clock::now(), last_commit = Clock::now();
    bool dirty = false;  // progress since the last commit
    const TaskCounters at_start = counters_;
    durable_offset_ = counters_.offset;
    // Hands what was read to the commit (with stream.pipeline, to the commit thread: reading
    // goes on). Once it is durable, the log drops what lies before its checkpoint.
    auto commit = [&]() -> Status {
      last_commit = Clock::now();
      dirty = false;
      std::vector<int64_t> times = std::move(event_ms_);
      event_ms_.clear();
      WorkerOutput::OnDurable metrics;
      if (stream_->metrics != nullptr) {
        metrics = [m = stream_->metrics, at_start, sealed = counters_,
                   times = std::move(times)](const WorkerOutput::Committed& c) {
          RecordCommit(*m, at_start, sealed, c, times);
        };
      }
      return out_.CommitAsync(
          [this, &log, sealed = counters_](const WorkerOutput::Committed&) -> Status {
            if (stream_->metrics != nullptr) {
              const uint64_t end = log.DurableEnd();
              stream_->metrics->lag_bytes = end > counters_.offset ? end - counters_.offset : 0;
            }
            // The log's backlog (what 429s count) now ends here, and so does the reader's.
            durable_offset_ = sealed.offset;
            WEIR_RETURN_IF_ERROR(log.Trim(sealed.offset));
            if (compactor_) compactor_->AfterCommit(stream_->run_tag);
            return Status::OK();
          },
          std::move(metrics));
    };
    auto stop = [&](std::string why) -> Status {
      stream_->stopped = std::move(why);
      if (compactor_) compactor_->Close();  // the final commit starts no compaction
      return dirty ? commit() : Status::OK();
    };
    // The rules stage takes no idleness from a reader that stopped (an error, --max-records).
    struct NotIdleAtExit {
      SourceIdle* idle;
      ~NotIdleAtExit() {
        if (idle != nullptr) idle->since_ms.store(0, std::memory_order_release);
      }
    } not_idle_at_exit{stream_->idle};
    for (;;) {
      WEIR_ASSIGN_OR_RETURN(bool caught_up, Fill());
      recs.clear();
      size_t consumed = splitter_->Split(buf_, false, buf_base_, counters_.record_number, recs);
      size_t take = recs.size();
      // Not idle from the moment there is something to read (before it is processed).
      if (stream_->idle != nullptr && (take > 0 || !caught_up)) {
        stream_->idle->since_ms.store(0, std::memory_order_release);
      }
      if (stream_->max_records > 0) {
        take = std::min<uint64_t>(take, stream_->max_records - read_here);
      }
      for (size_t i = 0; i < take;) {
        WEIR_RETURN_IF_ERROR(out_.PollCommitted());
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
        // The log's durable bytes past those read are what waits: while that would take
        // longer than commit_interval to read, the stream is behind and commits by size or
        // stream.catch_up_interval (WorkerOutput::ShouldCommit). Bytes read but not committed
        // still count against read.max_backlog_mb (429s), so a commit deferred for catching up
        // is made once they reach half of it.
        const uint64_t durable = log.DurableEnd();
        out_.SetBacklog(counters_.offset - at_start.offset,
                        durable > counters_.offset ? durable - counters_.offset : 0);
        if (out_.ShouldCommit() ||
            (Millis(last_commit) >= interval &&
             counters_.offset - durable_offset_ >= cfg_.read.max_backlog_bytes / 2)) {
          WEIR_RETURN_IF_ERROR(commit());
        }
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
      WEIR_RETURN_IF_ERROR(out_.PollCommitted());
      // By the clock, or at once after a backlog was read (WorkerOutput::SetBacklog).
      if (dirty && (out_.ShouldCommit() || Millis(last_commit) >= interval)) {
        WEIR_RETURN_IF_ERROR(commit());
      }
      if (stream_->idle != nullptr) {
        // Idle only once what was read is committed: the rules stage then has all of it.
        const bool quiet = take == 0 && !dirty && !out_.committing();
        stream_->idle->since_ms.store(quiet ? UnixNowMs() - static_cast<int64_t>(Millis(last_data)) : 0,
                                      std::memory_order_release);
      }
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

  // StreamMetrics the moment a commit of the task at `done` is durable (this run's part since
  // `at_start`): counters, the commit's latency, and each committed record's end-to-end latency
  // (`event_ms`: the rows' event times). Runs on the commit thread.
  static void RecordCommit(StreamMetrics& metrics, const TaskCounters& at_start,
                           const TaskCounters& done, const WorkerOutput::Committed& c,
                           const std::vector<int64_t>& event_ms) {
    StreamMetrics* m = &metrics;
    m->read = done.read - at_start.read;
    m->written = done.written - at_start.written;
    m->skipped = done.skipped - at_start.skipped;
    m->errored = done.errored - at_start.errored;
    m->duplicates = done.duplicates - at_start.duplicates;
    m->commits.fetch_add(1, std::memory_order_relaxed);
    const int64_t now_ms = c.finished_unix_ms;
    m->last_commit_unix_ms = now_ms;
    m->commit_seconds.Observe(c.seconds);
    for (int64_t t : event_ms) m->end_to_end_seconds.Observe(static_cast<double>(now_ms - t) / 1000.0);
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
      if (!b.IsNull(r)) event_sink_->push_back(b.Int64At(r));
    }
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
    WEIR_ASSIGN_OR_RETURN(size_t duplicates, out_.Append(batch, task_.id));
    if (event_sink_ != nullptr) KeepEventTimes(batch);
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
  std::unique_ptr<char[]> chunk_;  // Fill's read buffer
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
  // A collector stream: the log offset of its last durable commit (the log is trimmed there).
  uint64_t durable_offset_ = 0;
  // Where ProcessSlice keeps event times: event_ms_ for a collector stream with metrics, the
  // caller's vector for a message source (KeepEventTimes), else null.
  std::vector<int64_t>* event_sink_ = nullptr;

 public:
  void set_event_sink(std::vector<int64_t>* sink) { event_sink_ = sink; }
  // write.compaction.auto while the collector's stream runs. Declared last: destroyed (so
  // waited for) first.
  std::unique_ptr<BackgroundCompactor> compactor_;
};


TaskExecutor::TaskExecutor(const DatasetConfig& cfg, RunProgress& progress, const TaskRow& task,
                           const Transforms& transforms, WorkerOutput& out, sdk::Parser* parser,
                           const sdk::RecordFormat* format, StreamRun* stream)
    : impl_(std::make_unique<Impl>(cfg, progress, task, transforms, out, parser, format, stream)) {}

TaskExecutor::~TaskExecutor() = default;

Status TaskExecutor::Execute() { return impl_->Execute(); }

Status TaskExecutor::Reprocess(const std::vector<ErrorRef>& refs, uint64_t* fixed,
                               uint64_t* skipped, uint64_t* still_failing) {
  return impl_->Reprocess(refs, fixed, skipped, still_failing);
}

Status TaskExecutor::Open() { return impl_->Open(); }
Status TaskExecutor::Feed(std::span<const RecordView> records, uint64_t next_offset) {
  return impl_->Feed(records, next_offset);
}
void TaskExecutor::Skip(uint64_t n, uint64_t next_offset) { impl_->Skip(n, next_offset); }
const TaskCounters& TaskExecutor::counters() const { return impl_->counters(); }
void TaskExecutor::KeepEventTimes(std::vector<int64_t>* sink) { impl_->set_event_sink(sink); }

}  // namespace weir
