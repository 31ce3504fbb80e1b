#include "exec/worker_output.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "core/text.h"
#include "exec/dedup.h"
#include "exec/iceberg_table.h"
#include "exec/lake_claim.h"
#include "exec/runner.h"
#include "io/file_identity.h"
#include "io/fs.h"
#include "lake/file_writer.h"
#include "lake/iceberg_datafile.h"
#include "rules/engine.h"

namespace weir {

void CrashPoint(const char* name, int64_t commits_done) {
  static const char* at = std::getenv("WEIR_CRASH_AT");
  static const char* pause_at = std::getenv("WEIR_PAUSE_AT");
  const bool crash = at != nullptr && std::string_view(at) == name;
  const bool pause = pause_at != nullptr && std::string_view(pause_at) == name;
  if (!crash && !pause) return;
  static const int64_t after = [] {
    const char* a = std::getenv("WEIR_CRASH_AFTER_COMMITS");
    return a ? std::atoll(a) : 0;
  }();
  if (commits_done < after) return;
  if (crash) ::kill(::getpid(), SIGKILL);
  // A stall (GC pause, a stopped VM): the whole process stops once, until SIGCONT.
  static std::atomic<bool> paused{false};
  if (!paused.exchange(true)) ::kill(::getpid(), SIGSTOP);
}

Status InjectedReadError() {
  static const char* spec = std::getenv("WEIR_INJECT_READ_ERRORS");
  if (spec == nullptr) return Status::OK();
  static std::atomic<int> calls{0};
  int n = ++calls;
  std::string s = std::string(",") + spec + ",";
  if (s.find("," + std::to_string(n) + ",") == std::string::npos) return Status::OK();
  return Status::IOError("injected read error (call " + std::to_string(n) + ")", true);
}

void AppendErrorRecord(std::string& out, const DatasetConfig& cfg, int64_t task_id,
                       const std::string& entry, const RecordView& rec, const std::string& reason,
                       bool sdk_record, std::string_view extra_json) {
  out += "{\"dataset\":";
  AppendJsonString(out, cfg.name);
  out += ",\"task\":" + std::to_string(task_id) + ",\"file\":";
  AppendJsonString(out, entry);
  // Line and CSV records exclude their terminator; SDK records (and records with a delimiting
  // problem) end where the splitter says, which also covers a length prefix before the payload.
  uint64_t end = (rec.oversize || rec.problem != nullptr || sdk_record) ? rec.end_offset
                                                                         : rec.offset + rec.bytes.size();
  if (rec.range_end != RecordView::kNoRangeEnd) end = rec.range_end;  // multi-line records
  out += ",\"start_offset\":" + std::to_string(rec.offset) + ",\"end_offset\":" +
         std::to_string(end) + ",\"record_number\":" + std::to_string(rec.number) +
         ",\"reason\":";
  AppendJsonString(out, reason);
  std::string_view excerpt = rec.bytes.substr(0, cfg.errors.excerpt_bytes);
  out += ",\"excerpt\":";
  if (AppendJsonString(out, excerpt)) {
    // Not valid UTF-8: keep the exact bytes too, so nothing about the input is lost.
    out += ",\"excerpt_base64\":\"" + Base64Encode(excerpt) + "\"";
  }
  out += extra_json;
  out += "}\n";
}

Status DeleteSuperseded(const DatasetConfig& cfg, Store& store) {
  WEIR_ASSIGN_OR_RETURN(auto old, store.Files(cfg.name, "", "superseded"));
  std::vector<int64_t> ids;
  for (const auto& f : old) {
    WEIR_RETURN_IF_ERROR(CheckDatasetOutputPath(cfg, f.path));
    if (ids.size() == old.size() / 2) CrashPoint("mid-delete", 0);
    WEIR_RETURN_IF_ERROR(fs::RemoveFile(f.path));
    if (!f.staging.empty() && IsDatasetOutputPath(cfg, f.staging)) {
      WEIR_RETURN_IF_ERROR(fs::RemoveFile(f.staging));
    }
    ids.push_back(f.id);
  }
  return store.DeleteFiles(ids);
}

Status PublishPendingFiles(const DatasetConfig& cfg, Store& store) {
  WEIR_ASSIGN_OR_RETURN(auto pending, store.Files(cfg.name, "", "pending"));
  std::vector<int64_t> done;
  for (const CatalogFile& f : pending) {
    WEIR_RETURN_IF_ERROR(CheckDatasetOutputPath(cfg, f.path));
    WEIR_RETURN_IF_ERROR(CheckDatasetOutputPath(cfg, f.staging));
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
  if (!UsesIceberg(cfg)) return Status::OK();
  return store.AdvanceIcebergPointer(cfg.name, kIcebergNamespace, cfg.write.table);
}

namespace {

std::string LeasePath(const DatasetConfig& cfg, const std::string& tag) {
  return DataStagingDir(cfg) + "/" + tag + ".live";
}

constexpr std::string_view kLeaseSuffix = ".live";

}  // namespace

Result<std::unique_ptr<StagingLease>> StagingLease::Acquire(const DatasetConfig& cfg,
                                                            const std::string& tag) {
  WEIR_RETURN_IF_ERROR(fs::CreateDirs(DataStagingDir(cfg)));
  const std::string path = LeasePath(cfg, tag);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return fs::ErrnoStatus("opening", path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    return fs::ErrnoStatus("locking (is another writer using the same tag?)", path, err);
  }
  return std::unique_ptr<StagingLease>(new StagingLease(fd, path));
}

StagingLease::~StagingLease() {
  // The folders stay (a commit may be mid-publication elsewhere); the next recovery removes
  // them once the lease is free. Unlinking first would let a recoverer lock a new inode.
  ::close(fd_);
}

Status RecoverDeadWriters(const DatasetConfig& cfg, Store& store) {
  WEIR_RETURN_IF_ERROR(PublishPendingFiles(cfg, store));
  const std::string root = DataStagingDir(cfg);
  std::error_code ec;
  std::vector<std::string> dead;
  for (const auto& e : std::filesystem::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= kLeaseSuffix.size() || !name.ends_with(kLeaseSuffix)) continue;
    const int fd = ::open(e.path().c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    // A lease nobody holds: its writer is gone (our own leases are held on other descriptors).
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      dead.push_back(name.substr(0, name.size() - kLeaseSuffix.size()));
      WEIR_RETURN_IF_ERROR(fs::RemoveTree(root + "/" + dead.back()));
      WEIR_RETURN_IF_ERROR(fs::RemoveTree(ErrorsStagingDir(cfg) + "/" + dead.back()));
      WEIR_RETURN_IF_ERROR(fs::RemoveTree(RulesSpoolStagingDir(cfg) + "/" + dead.back()));
      (void)fs::RemoveFile(e.path().string());
    }
    ::close(fd);
  }
  return Status::OK();
}

Status CheckErrorRatio(const DatasetConfig& cfg, const TaskCounters& counters, bool eof) {
  if (!cfg.errors.max_ratio || counters.read == 0) return Status::OK();
  if (counters.read < 1000 && !eof) return Status::OK();
  double ratio = static_cast<double>(counters.errored) / static_cast<double>(counters.read);
  if (ratio <= *cfg.errors.max_ratio) return Status::OK();
  char msg[200];
  std::snprintf(msg, sizeof(msg),
                "error ratio %.4f (%" PRIu64 " of %" PRIu64 " records) above errors.max_ratio %.4f",
                ratio, counters.errored, counters.read, *cfg.errors.max_ratio);
  return Status::Invalid(msg);
}

Status CheckTaskInputs(const TaskRow& task, const std::vector<std::string>& paths,
                       std::string* start_identity) {
  start_identity->clear();
  std::vector<FileIdentity> recorded = FileIdentitiesFromJson(task.input_id);
  if (recorded.size() != paths.size()) {
    std::vector<FileIdentity> now;
    for (const auto& p : paths) {
      auto id = IdentifyFile(p);
      if (!id.ok()) return Status::OK();  // opening the input reports the problem
      now.push_back(*id);
    }
    *start_identity = FileIdentitiesToJson(now);
    return Status::OK();
  }
  for (size_t i = 0; i < paths.size(); ++i) {
    FileComparison c = CompareFile(paths[i], recorded[i]);
    if (c.change != FileChange::kRewritten && c.change != FileChange::kTruncated) continue;
    return Status::Invalid(
        task.entry + ": input " + paths[i] + " changed since this task started reading it: " +
        c.detail + ". " + std::to_string(task.counters.read) +
        " record(s) read from the old content are already committed, so resuming at byte " +
        std::to_string(task.counters.offset) +
        " would mix old and new content. Restore the file to finish the task, or `weir run "
        "--restart` to load the dataset again from the files as they are now");
  }
  return Status::OK();
}

std::string ReadInputsIdentity(const std::vector<std::string>& paths,
                               const std::vector<uint64_t>& sizes) {
  std::vector<FileIdentity> ids;
  for (size_t i = 0; i < paths.size(); ++i) {
    auto id = IdentifyFile(paths[i], i < sizes.size() ? sizes[i] : UINT64_MAX);
    if (!id.ok()) return {};
    ids.push_back(*id);
  }
  return FileIdentitiesToJson(ids);
}

void RemoveRows(ColumnBatch& batch, const std::vector<uint8_t>& drop) {
  ColumnBatch kept(batch.schema);
  for (size_t c = 0; c < batch.columns.size(); ++c) {
    for (size_t r = 0; r < batch.num_rows(); ++r) {
      if (!drop[r]) kept.columns[c].AppendFrom(batch.columns[c], r);
    }
  }
  batch = std::move(kept);
}

Result<size_t> WorkerOutput::Append(ColumnBatch& batch, int64_t task_id) {
  size_t dropped = 0;
  std::vector<DedupKey> keys;
  if (dedup_ != nullptr) {
    // Outside feed_mu_: the index is thread-safe, and its store lookup would otherwise hold
    // up every other feeding thread.
    WEIR_ASSIGN_OR_RETURN(dropped, dedup_->Filter(batch, keys));
  }
  std::string spool;
  if (rules_ != nullptr) rules_->EncodeRows(batch, spool);
  std::lock_guard<std::mutex> l(feed_mu_);
  dedup_keys_.insert(dedup_keys_.end(), keys.begin(), keys.end());
  if (rules_ != nullptr && batch.num_rows() > 0) {
    Pending& p = pending_[task_id];
    p.rules += spool;
    p.rules_rows += batch.num_rows();
    has_pending_.store(true, std::memory_order_relaxed);
  }
  if (cfg_.write.connector != "none") buffer_.Append(batch);
  return dropped;
}

void WorkerOutput::ForgetDedupKeys() {
  if (dedup_ != nullptr) dedup_->Forget(dedup_keys_);
  dedup_keys_.clear();
}

void CommitGroup::Join(WorkerOutput* w) {
  std::lock_guard<std::mutex> l(mu_);
  members_.insert(w);
}

void CommitGroup::Leave(WorkerOutput* w) {
  std::lock_guard<std::mutex> l(mu_);
  members_.erase(w);
  cv_.notify_all();
}

void CommitGroup::Notify() {
  std::lock_guard<std::mutex> l(mu_);
  cv_.notify_all();
}

bool CommitGroup::CompleteLocked() const {
  for (WorkerOutput* m : members_) {
    // A requested round waits only for members holding output. Arrivals that did not ask
    // (workers out of tasks) wait for every member still running to arrive or leave: one that
    // holds nothing yet may be about to buffer the rest of the load.
    const bool needed = requesting_ > 0 ? m->has_pending() : true;
    if (needed && std::find(arrived_.begin(), arrived_.end(), m) == arrived_.end()) return false;
  }
  return true;
}

Status CommitGroup::Commit(WorkerOutput& w, bool request) {
  std::unique_lock<std::mutex> l(mu_);
  // Arriving while a round is being committed: this worker belongs to the next one.
  const uint64_t round = round_ + (leading_ ? 1 : 0);
  arrived_.push_back(&w);
  if (request) {
    ++requesting_;
    requested_.store(true, std::memory_order_relaxed);
  }
  cv_.notify_all();
  // Wait for the round being committed (if any) to end, then for this round to be complete
  // or committed by another participant.
  while (round_ < round || (round_ == round && (leading_ || !CompleteLocked()))) cv_.wait(l);
  if (round_ > round) return w.round_result_;  // another participant led this round
  leading_ = true;
  std::vector<WorkerOutput*> participants;
  participants.swap(arrived_);
  requesting_ = 0;
  l.unlock();
  Status st = w.CommitRound(participants);
  for (WorkerOutput* p : participants) p->round_result_ = st;
  l.lock();
  leading_ = false;
  ++round_;
  requested_.store(requesting_ > 0, std::memory_order_relaxed);
  cv_.notify_all();
  return st;
}

WorkerOutput::~WorkerOutput() {
  if (flight_thread_.joinable()) flight_thread_.join();
}

void WorkerOutput::DropBuffered() {
  buffer_.Clear();
  pending_.clear();
  supersede_.clear();
  ForgetDedupKeys();
  RestartInterval(std::chrono::steady_clock::now());
  has_pending_.store(false, std::memory_order_relaxed);
  if (group_) group_->Notify();
}

namespace {

int64_t UnixMsNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status WorkerOutput::CommitAsync(OnCommitted done, OnDurable durable) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!pipelined_ || (pending_.empty() && buffer_.rows() == 0)) {
    WEIR_RETURN_IF_ERROR(Commit());  // waits for a flight first
    const Committed c{std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                      UnixMsNow()};
    if (durable) durable(c);
    return done ? done(c) : Status::OK();
  }
  WEIR_RETURN_IF_ERROR(WaitCommitted());
  if (!flight_) {
    flight_ = std::make_unique<WorkerOutput>(cfg_, store_, buffer_.schema(), tag_, iceberg_);
    flight_->dedup_ = dedup_;
    flight_->rules_ = rules_;
    flight_->shared_writers_ = shared_writers_;
  }
  WorkerOutput& f = *flight_;
  // The flight's buffer is empty (cleared by its last commit) and keeps its capacity: the two
  // buffers take turns.
  std::swap(f.buffer_, buffer_);
  f.pending_ = std::move(pending_);
  pending_.clear();
  f.supersede_ = std::move(supersede_);
  supersede_.clear();
  f.dedup_keys_ = std::move(dedup_keys_);  // still in the index: the next interval's
  dedup_keys_.clear();                     // duplicates of them are dropped
  // File names stay unique: the flight's commit takes the next number of this writer.
  f.commits_ = commits_++;
  // What is buffered from now on continues the flight's checkpoints.
  flight_prev_seq_.clear();
  for (const auto& [id, p] : f.pending_) {
    auto it = committed_seq_.find(id);
    flight_prev_seq_[id] = it == committed_seq_.end() ? -1 : it->second;
    committed_seq_[id] = p.update.seq + 1;
  }
  RestartInterval(t0);
  has_pending_.store(false, std::memory_order_relaxed);
  flight_callback_ = std::move(done);
  flight_durable_ = std::move(durable);
  flight_done_.store(false, std::memory_order_relaxed);
  flight_busy_ = true;
  flight_thread_ = std::thread([this, t0] {
    Status st = flight_->CommitAlone();
    if (!st.ok()) flight_->DropBuffered();  // forgets its dedup keys too
    flight_info_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    flight_info_.finished_unix_ms = UnixMsNow();
    if (st.ok() && flight_durable_) flight_durable_(flight_info_);
    flight_status_ = std::move(st);
    flight_done_.store(true, std::memory_order_release);
  });
  return Status::OK();
}

Status WorkerOutput::ReapFlight() {
  flight_thread_.join();
  flight_busy_ = false;
  OnCommitted done = std::move(flight_callback_);
  flight_callback_ = nullptr;
  flight_durable_ = nullptr;
  if (!flight_status_.ok()) {
    for (const auto& [id, prev] : flight_prev_seq_) {
      if (prev < 0) {
        committed_seq_.erase(id);
      } else {
        committed_seq_[id] = prev;
      }
    }
    // Buffered since the hand-over, so it continues checkpoints that are not in the store:
    // committing it would skip the failed commit's records.
    DropBuffered();
    return flight_status_;
  }
  return done ? done(flight_info_) : Status::OK();
}

Status WorkerOutput::PollCommitted() {
  if (!flight_busy_ || !flight_done_.load(std::memory_order_acquire)) return Status::OK();
  return ReapFlight();
}

Status WorkerOutput::WaitCommitted() {
  if (!flight_busy_) return Status::OK();
  return ReapFlight();
}

Status WorkerOutput::Commit(bool request) {
  if (flight_busy_) WEIR_RETURN_IF_ERROR(WaitCommitted());
  if (pending_.empty() && buffer_.rows() == 0) return Status::OK();
  if (group_) return group_->Commit(*this, request);
  return CommitAlone();
}

Status WorkerOutput::CommitRound(const std::vector<WorkerOutput*>& round) {
  std::set<int64_t> own;
  for (const auto& [id, p] : pending_) own.insert(id);
  const size_t own_keys = dedup_keys_.size();
  for (WorkerOutput* o : round) {
    if (o == this) continue;
    buffer_.MergeFrom(o->buffer_, cfg_.compute.workers);  // the others wait meanwhile
    for (const auto& [id, p] : o->pending_) pending_[id] = p;
    supersede_.insert(supersede_.end(), o->supersede_.begin(), o->supersede_.end());
    dedup_keys_.insert(dedup_keys_.end(), o->dedup_keys_.begin(), o->dedup_keys_.end());
  }
  Status st = CommitAlone();
  if (!st.ok()) {
    // Each participant handles the failure of its own tasks (their pending state is theirs).
    for (auto it = pending_.begin(); it != pending_.end();) {
      it = own.count(it->first) ? std::next(it) : pending_.erase(it);
    }
    dedup_keys_.resize(own_keys);
    return st;
  }
  for (auto it = committed_seq_.begin(); it != committed_seq_.end();) {
    bool theirs = false;
    for (WorkerOutput* o : round) theirs |= o != this && o->pending_.count(it->first) > 0;
    it = theirs && !own.count(it->first) ? committed_seq_.erase(it) : std::next(it);
  }
  for (WorkerOutput* o : round) {
    if (o != this) o->FinishCommitted();
  }
  return Status::OK();
}

void WorkerOutput::FinishCommitted() {
  for (const auto& [id, p] : pending_) committed_seq_[id] = p.update.seq + 1;
  dedup_keys_.clear();  // the leader's commit stored them and released them from the index
  buffer_.Clear();
  pending_.clear();
  supersede_.clear();
  RestartInterval(std::chrono::steady_clock::now());
  has_pending_.store(false, std::memory_order_relaxed);
}

void WorkerOutput::SetBacklog(uint64_t consumed, uint64_t waiting) {
  consumed_ = consumed;
  waiting_ = waiting;
  if (commit_seconds_ <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - last_commit_).count();
  // Caught up with nothing buffered: the commit that took the backlog's end already ran.
  const bool buffered = buffer_.rows() > 0 || !pending_.empty();
  const bool was_behind = behind_;
  auto left_backlog = [&] {
    if (was_behind && !behind_) {
      caught_up_ = buffered;
      caught_up_at_ = now;
    }
  };
  if (waiting == 0) {
    behind_ = false;
    left_backlog();
    return;
  }
  if (consumed <= consumed_at_commit_ || elapsed <= 0) return;  // no rate to judge by yet
  // Seconds reading what waits takes at this interval's rate.
  const double drain =
      static_cast<double>(waiting) * elapsed / static_cast<double>(consumed - consumed_at_commit_);
  if (behind_) {
    behind_ = drain >= commit_seconds_ / 10;
    left_backlog();
  } else if (elapsed >= commit_seconds_ || OverRoll()) {
    // Due by the clock, or by size before commit_interval is over (the source gave the memory
    // bound's worth faster than that: the rate is measured over as much reading).
    behind_ = drain > commit_seconds_;
    if (behind_) caught_up_ = false;  // a new backlog before the last catch-up's commit
  }
}

void WorkerOutput::RestartInterval(std::chrono::steady_clock::time_point at) {
  last_commit_ = at;
  consumed_at_commit_ = consumed_;
  caught_up_ = false;
}

Status WorkerOutput::CommitAlone() {
  if (pending_.empty() && buffer_.rows() == 0) return Status::OK();
  ++commits_;
  // Crash points count the process's commits, whichever worker leads them.
  static std::atomic<int64_t> process_commits{0};
  const int64_t commits_before = process_commits++;
  char stem[96];
  std::snprintf(stem, sizeof(stem), "part-%s-%06" PRId64, tag_.c_str(), commits_);
  std::vector<CatalogFile> files;
  bool data_staged = false, errors_staged = false;
  const int64_t first_task = pending_.empty() ? 0 : pending_.begin()->first;
  std::vector<iceberg::DataFile> described;  // Iceberg tables: the snapshot's new files
  // On S3 (no rename) files are uploaded under their final, unique names BEFORE the commit and
  // recorded `published`: the snapshot and the store commit are what make them part of the
  // table, and a crash before the commit leaves orphans (`weir lake expire`). Any worker of a
  // fleet can then take over a task, since nothing committed waits on this machine's disk.
  const bool remote_data = fs::IsRemote(TableDir(cfg_));
  const bool remote_errors = fs::IsRemote(ErrorsDir(cfg_));
  if (buffer_.rows() > 0) {
    LakeFileOptions o;
    o.format = cfg_.write.format;
    o.compression = cfg_.write.compression;
    o.staging_dir = DataStagingDir(cfg_) + "/" + tag_;
    o.file_stem = stem;
    o.target_file_bytes = cfg_.write.target_file_mb << 20;  // write.target_file_mb
    o.threads = cfg_.compute.workers;  // the round's other workers wait meanwhile
    o.publish_dir = TableDir(cfg_);
    if (iceberg_) {
      o.rel_prefix = TableDataPrefix(cfg_);
      o.field_ids = iceberg_->FieldIds(buffer_.file_schema());
      o.timestamp_micros = true;
    }
    std::mutex described_mu;
    std::map<size_t, iceberg::DataFile> described_at;  // by the file's index in `staged`
    if (iceberg_) {
      o.on_written = [&](size_t index, const StagedFile& s) -> Status {
        std::vector<const ColumnBuffer*> cols;
        for (const auto& c : s.data->columns) cols.push_back(&c);
        WEIR_ASSIGN_OR_RETURN(
            auto df, iceberg::DescribeDataFile(iceberg_->schema(), iceberg_->spec(),
                                               buffer_.file_schema(), cols,
                                               TableDir(cfg_) + "/" + s.rel_path,
                                               static_cast<int64_t>(s.bytes)));
        for (size_t c = 0; c < o.field_ids.size() && c < s.column_bytes.size(); ++c) {
          df.column_sizes[o.field_ids[c]] = s.column_bytes[c];
        }
        df.split_offsets = s.split_offsets;
        // Uploaded on the writing thread, so a commit's files go up in parallel.
        if (remote_data) WEIR_RETURN_IF_ERROR(fs::Rename(s.staging_path, df.file_path));
        std::lock_guard<std::mutex> l(described_mu);
        described_at.emplace(index, std::move(df));
        return Status::OK();
      };
    }
    WEIR_ASSIGN_OR_RETURN(auto staged, WriteStagedFiles(buffer_, o));
    for (size_t i = 0; i < staged.size(); ++i) {
      auto& s = staged[i];
      if (iceberg_) {
        auto df = described_at.find(i);
        if (df == described_at.end()) return Status::Internal("no metrics for " + s.rel_path);
        described.push_back(std::move(df->second));
      }
      CatalogFile f;
      f.task_id = first_task;
      f.kind = "data";
      f.partition = s.partition;
      f.path = TableDir(cfg_) + "/" + s.rel_path;
      f.staging = s.staging_path;
      f.rows = s.rows;
      f.bytes = s.bytes;
      if (remote_data) f.state = "published";
      files.push_back(std::move(f));
    }
    data_staged = !remote_data;
  }
  for (auto& [id, p] : pending_) {
    if (p.errors.empty()) continue;
    std::string dir = ErrorsStagingDir(cfg_) + "/" + tag_;
    WEIR_RETURN_IF_ERROR(fs::CreateDirs(dir));
    char name[256];
    std::snprintf(name, sizeof(name), "errors-%05" PRId64 "-%06" PRId64 "-%s.jsonl", id,
                  p.update.seq + 1, stem + 5);
    CatalogFile f;
    f.task_id = id;
    f.kind = "errors";
    f.path = ErrorsDir(cfg_) + "/" + name;
    f.staging = dir + "/" + name + ".staged";
    f.bytes = p.errors.size();
    for (char ch : p.errors) f.rows += ch == '\n';
    if (remote_errors) {
      WEIR_RETURN_IF_ERROR(fs::WriteFile(f.path, p.errors));
      f.state = "published";
    } else {
      WEIR_RETURN_IF_ERROR(fs::WriteFile(f.staging, p.errors));
      errors_staged = true;
    }
    files.push_back(std::move(f));
  }
  bool rules_staged = false;
  for (auto& [id, p] : pending_) {
    if (p.rules.empty()) continue;
    if (rules_ == nullptr) return Status::Internal("rules rows buffered by an output without rules");
    // The task's rows for the rules, committed with its checkpoint: the rules stage reads
    // them in (task, commit) order, whichever worker and commit they came with.
    const std::string dir = RulesSpoolStagingDir(cfg_) + "/" + tag_;
    WEIR_RETURN_IF_ERROR(fs::CreateDirs(dir));
    char name[256];
    std::snprintf(name, sizeof(name), "rules-%08" PRId64 "-%08" PRId64 "-%s.bin", id,
                  p.update.seq + 1, stem + 5);
    CatalogFile f;
    f.task_id = id;
    f.kind = "rules";
    f.path = RulesSpoolDir(cfg_) + "/" + name;
    f.staging = dir + "/" + name + ".staged";
    f.bytes = p.rules.size();
    f.rows = p.rules_rows;
    // With the commit's time: a stream's per-input idleness is judged by it (rules/engine.h).
    WEIR_RETURN_IF_ERROR(fs::WriteFile(
        f.staging, rules_->SpoolHeader() + rules::Engine::SpoolTime(UnixNowMs()) + p.rules));
    rules_staged = true;
    files.push_back(std::move(f));
  }
  CrashPoint("after-stage", commits_before);
  if (rules_staged) WEIR_RETURN_IF_ERROR(fs::SyncFilesystem(RulesSpoolStagingDir(cfg_)));
  if (data_staged) WEIR_RETURN_IF_ERROR(fs::SyncFilesystem(DataStagingDir(cfg_)));
  if (errors_staged) WEIR_RETURN_IF_ERROR(fs::SyncFilesystem(ErrorsStagingDir(cfg_)));

  CommitRequest req;
  req.dataset = cfg_.name;
  req.files = files;
  req.supersede = supersede_;
  if (dedup_ != nullptr) {
    req.dedup_keys = dedup_keys_;
    req.dedup_within_ms = dedup_->within_ms();
  }
  uint64_t data_files = 0;
  for (const auto& f : files) data_files += f.kind == "data";
  for (auto& [id, p] : pending_) {
    TaskUpdate u = p.update;
    u.seq += 1;
    // Files hold rows of several tasks; a task counts the files of the commits it was part of.
    u.files_added = data_files;
    req.tasks.push_back(u);
  }
  std::vector<int64_t> ids;
  auto publish = [&]() -> Status {
    CrashPoint("after-commit", commits_before);
    std::vector<int64_t> renamed;  // files uploaded before the commit are published already
    // One renamed path per kind: data, error records and the rules spool may live on
    // different file systems (the spool is under the store folder).
    std::map<std::string, std::string> renamed_path;
    for (size_t i = 0; i < files.size(); ++i) {
      if (files[i].state == "published") continue;
      if (Status st = fs::Rename(files[i].staging, files[i].path); !st.ok()) {
        // Published already by another writer's recovery (PublishPendingFiles publishes every
        // committed file it finds staged): writers on other machines sharing a PostgreSQL
        // store do not share this machine's commit gate. The file is where it belongs.
        if (fs::Exists(files[i].staging) || !fs::Exists(files[i].path)) return st;
      }
      renamed.push_back(ids[i]);
      renamed_path[files[i].kind] = files[i].path;
      if (i == files.size() / 2) CrashPoint("mid-publish", commits_before);
    }
    if (!renamed.empty()) {
      // The renames are durable before the catalog says so.
      for (const auto& [kind, path] : renamed_path) WEIR_RETURN_IF_ERROR(fs::SyncFilesystem(path));
      WEIR_RETURN_IF_ERROR(store_.MarkPublished(renamed));
      // Every file of the snapshot is in place: catalog readers may see it now.
      if (iceberg_) {
        WEIR_RETURN_IF_ERROR(
            store_.AdvanceIcebergPointer(cfg_.name, kIcebergNamespace, cfg_.write.table));
      }
    }
    return Status::OK();
  };
  if (iceberg_ && !described.empty()) {
    // One snapshot per commit that adds rows; error files and checkpoint-only commits do not
    // change the table.
    WEIR_RETURN_IF_ERROR(iceberg_->Commit(req, described, &ids, publish));
  } else {
    std::unique_ptr<CommitGate> gate;
    if (shared_writers_) {
      WEIR_ASSIGN_OR_RETURN(gate, CommitGate::Acquire(cfg_));
      WEIR_RETURN_IF_ERROR(RecoverDeadWriters(cfg_, store_));
    }
    WEIR_RETURN_IF_ERROR(store_.Commit(req, &ids));
    WEIR_RETURN_IF_ERROR(publish());
  }
  if (dedup_ != nullptr) dedup_->Committed(dedup_keys_);
  dedup_keys_.clear();
  WEIR_RETURN_IF_ERROR(DeleteSuperseded(cfg_, store_));
  supersede_.clear();
  for (const auto& u : req.tasks) committed_seq_[u.task_id] = u.seq;
  buffer_.Clear();
  pending_.clear();
  RestartInterval(std::chrono::steady_clock::now());
  has_pending_.store(false, std::memory_order_relaxed);
  return Status::OK();
}

}  // namespace weir
