#include "exec/rules_stage.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <future>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/text.h"
#include "exec/iceberg_table.h"
#include "exec/lake_claim.h"
#include "exec/lake_maintenance.h"
#include "exec/stream_metrics.h"
#include "exec/runner.h"
#include "exec/table_schema.h"
#include "exec/task_executor.h"
#include "exec/worker_output.h"
#include "io/fs.h"
#include "rules/engine.h"
#include "rules/state_store.h"
#include "source/kafka_producer.h"

namespace weir {

namespace {

constexpr const char* kRulesTaskEntry = "rules";
// A checkpoint's size bound, in changed keys, checked between spool files: a checkpoint is held
// in memory about four times while it is written (the changes, the batch, its redo record,
// RocksDB's memtable). In bench/rules a change is ~80 bytes, so 1M of them cost ~300 MB at once,
// less than the engine holds for those keys (~1.5 KB a key). A lower bound costs time: at 100K,
// bench/rules committed after every spool file (8 commits for 1M events, not 2), and encoding
// and writing the checkpoints was a quarter of the stage's time.
constexpr size_t kMaxPendingChanges = 1000000;
// The Kafka output's bound on one commit's derived records (one outbox file, one transaction).
constexpr size_t kMaxOutboxBytes = 32u << 20;
// A state entry of the stage's own beside the engine's (which never start with '#').
constexpr std::string_view kFingerprintKey = "#rules";

// (task id, commit) of a spool file, from its name "rules-<task>-<commit>-<writer>.bin";
// `writer`: the writer's commit that wrote it ("<writer tag>-<its commit number>.bin").
bool SpoolPosition(const std::string& path, int64_t* task, int64_t* seq,
                   std::string* writer = nullptr) {
  const std::string name = std::filesystem::path(path).filename().string();
  if (name.rfind("rules-", 0) != 0) return false;
  char* end = nullptr;
  *task = std::strtoll(name.c_str() + 6, &end, 10);
  if (end == nullptr || *end != '-') return false;
  *seq = std::strtoll(end + 1, &end, 10);
  if (end == nullptr || *end != '-' || *task <= 0 || *seq <= 0) return false;
  if (writer != nullptr) *writer = end + 1;
  return true;
}

// The derived task's checkpoint: for each task whose spool the stage read, the last commit
// read, as "task:commit,task:commit,...".
std::map<int64_t, int64_t> ParseConsumed(const std::string& text) {
  std::map<int64_t, int64_t> m;
  const char* p = text.c_str();
  while (*p != '\0') {
    char* end = nullptr;
    const int64_t t = std::strtoll(p, &end, 10);
    if (end == p || *end != ':') break;
    const int64_t c = std::strtoll(end + 1, &end, 10);
    m[t] = c;
    p = *end == ',' ? end + 1 : end;
    if (*end != ',') break;
  }
  return m;
}

std::string FormatConsumed(const std::map<int64_t, int64_t>& m) {
  std::string s;
  for (const auto& [t, c] : m) {
    if (!s.empty()) s += ',';
    s += std::to_string(t) + ":" + std::to_string(c);
  }
  return s;
}

// The rules as they shaped the state: any change to them (a pattern added, a window changed, an
// expression edited) makes the stored state meaningless for the new rules.
std::string RulesFingerprint(const rules::RulesConfig& r, const std::vector<ColumnSchema>& schema) {
  std::string t = r.event_time + "|" + std::to_string(r.out_of_orderness_ms) + "|";
  for (const auto& c : schema) t += c.name + ":" + std::to_string(static_cast<int>(c.type)) + ",";
  for (const auto& p : r.patterns) {
    t += "|p:" + p.name + ":" + p.key;
    for (const auto& st : p.sequence) t += "|s:" + st.as + ":" + st.where + ":" + std::to_string(st.within_ms);
    if (p.absent) t += "|a:" + p.absent->where + ":" + std::to_string(p.absent->within_ms);
    for (const auto& e : p.emit) t += "|e:" + e.name + ":" + e.alias + "." + e.column;
  }
  for (const auto& g : r.segments) {
    t += "|g:" + g.name + ":" + g.key + ":" + std::to_string(g.window_ms);
    for (const auto& a : g.aggregates) t += "|ag:" + a.name + ":" + a.text;
    for (const auto& b : g.buckets) t += "|b:" + b.name + ":" + b.when;
  }
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across builds
  for (unsigned char ch : t) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// The Kafka output's outbox (docs/rules.md): one file per stage commit with derived records,
// "<commit>.bin", holding each record as a length-prefixed key and value.
std::string OutboxDir(const DatasetConfig& c) {
  return (std::filesystem::path(LocalStateDir(c)) / "rules" / c.name / "outbox").string();
}

std::string OutboxPath(const DatasetConfig& c, int64_t seq) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020lld.bin", static_cast<long long>(seq));
  return OutboxDir(c) + "/" + name;
}

void AppendLengthPrefixed(std::string& out, std::string_view s) {
  const uint32_t n = static_cast<uint32_t>(s.size());
  out.append(reinterpret_cast<const char*>(&n), sizeof(n));
  out.append(s);
}

Result<std::vector<source::KafkaRecord>> DecodeOutbox(const std::string& bytes,
                                                      const std::string& path) {
  std::vector<source::KafkaRecord> out;
  size_t at = 0;
  auto take = [&](std::string* into) -> bool {
    uint32_t n = 0;
    if (bytes.size() - at < sizeof(n)) return false;
    std::memcpy(&n, bytes.data() + at, sizeof(n));
    at += sizeof(n);
    if (bytes.size() - at < n) return false;
    into->assign(bytes, at, n);
    at += n;
    return true;
  };
  while (at < bytes.size()) {
    source::KafkaRecord r;
    if (!take(&r.key) || !take(&r.value)) {
      return Status::Corruption("rules outbox file " + path + " is cut short at byte " +
                                std::to_string(at));
    }
    out.push_back(std::move(r));
  }
  return out;
}

bool Finished(TaskStatus s) {
  return s == TaskStatus::kCompleted || s == TaskStatus::kError || s == TaskStatus::kRetired;
}

}  // namespace

DatasetConfig DerivedTableConfig(const DatasetConfig& config) {
  DatasetConfig d = config;
  d.name = config.name + ".rules";
  d.read = ReadConfig();
  d.transforms.clear();
  d.rules.reset();
  WriteConfig w;
  w.format = "parquet";
  if (config.rules->output.connector == "kafka") {
    // No table: the records go to Kafka. The stage's task and checkpoints live in the store as
    // a table's would; the paths point into the state folder, where nothing is written (as
    // for write.connector none, core/config.cc).
    w.connector = "none";
    w.location = (std::filesystem::path(LocalStateDir(config)) / "no-table" / d.name).string();
    w.table = "none";
    w.table_format = "hive";
  } else {
    w.connector = "lake";
    w.location = config.rules->output.location;
    w.table = config.rules->output.table;
    w.table_format = "iceberg";
    w.compaction_auto = config.rules->output.compaction_auto;
    w.compaction_min_files = config.rules->output.compaction_min_files;
    w.compaction_interval_ms = config.rules->output.compaction_interval_ms;
  }
  w.compression = config.write.compression;
  auto col = [](const char* name, ColumnType t) {
    ColumnConfig c;
    c.name = name;
    c.path = std::string("/") + name;
    c.type = t;
    return c;
  };
  w.columns = {col("rule", ColumnType::kString), col("key", ColumnType::kString),
               col("event_time", ColumnType::kTimestampMs), col("data", ColumnType::kJson)};
  ColumnConfig day = col("day", ColumnType::kDate);
  day.source = ColumnSource::kDateOf;
  day.from = "event_time";
  day.path.clear();
  w.columns.push_back(day);
  w.partition_by = {"rule", "day"};
  d.write = w;
  return d;
}

Result<std::optional<IcebergTableDrop>> DerivedTableDrop(const DatasetConfig& config,
                                                          Store& store) {
  const DatasetConfig dcfg = DerivedTableConfig(config);
  if (!UsesIceberg(dcfg)) return std::optional<IcebergTableDrop>();  // the Kafka output
  WEIR_ASSIGN_OR_RETURN(auto row, DatasetIcebergRow(dcfg, store));
  return std::optional<IcebergTableDrop>(IcebergTableDrop{
      kIcebergNamespace, dcfg.write.table, row ? row->metadata_location : std::string()});
}

struct RulesStage::Impl {
  const DatasetConfig& config;
  Store& store;
  const SourceIdle* idle = nullptr;  // a stream's source, or null
  int lock_fd = -1;                  // the state folder's lock (flock), held while open
  bool output_buffered = false;      // derived records appended since the last commit
  StreamMetrics* metrics = nullptr;  // a stream's, or null
  // The buffered derived records' latency histograms and event times, observed at the commit.
  std::vector<std::pair<LatencyHistogram*, int64_t>> to_observe;
  std::vector<ColumnSchema> schema;
  std::string run_tag;
  DatasetConfig dcfg;
  TaskRow dtask;
  // Per task, the last spool commit consumed (a task run again after the stage passed it, by
  // --redrive or --rescan, adds commits after it: read when they come, in arrival order).
  std::map<int64_t, int64_t> consumed;
  int64_t seq = 0;                      // the derived task's commits
  uint64_t derived_total = 0;
  uint64_t processed_before = 0, late_before = 0;
  bool moved = false;  // consumed input or fired timers since the last commit
  bool flushed = false;
  std::string fingerprint;  // RulesFingerprint, stored with the first checkpoint
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  std::unique_ptr<rules::StateStore> state;
  std::unique_ptr<rules::Engine> engine;
  TableSchemaRecord dschema;
  std::unique_ptr<IcebergTable> iceberg;
  std::unique_ptr<WorkerOutput> out;
  RulesSummary summary;
  // The last checkpoint's apply to RocksDB, running while the stage reads on (declared after
  // `state`: destroyed, so waited for, before it). Nothing reads RocksDB meanwhile; the next
  // Prepare waits for it, and a crash before it ends leaves the redo, which Open applies.
  std::future<Status> applying;
  Status WaitApplied() { return applying.valid() ? applying.get() : Status::OK(); }
  // The Kafka output (rules.output.connector kafka): derived records are buffered as messages,
  // written to an outbox file before the store commit that makes them part of checkpoint N,
  // and published after it in a transaction with the marker N (source/kafka_producer.h).
  // Open publishes what a crash left between the two, and drops what Kafka already has.
  bool kafka = false;
  source::KafkaProducerOptions producer_options;
  std::unique_ptr<source::KafkaTxnProducer> producer;  // null after a failure: Connect again
  std::chrono::steady_clock::time_point retry_at{};    // the next attempt after a failure
  std::string outbox;  // this commit's messages (AppendLengthPrefixed key, value)
  std::vector<int64_t> unpublished;  // outbox files committed, in commit order
  // rules.output.compaction.auto while a stream runs (null otherwise). Borrows dcfg.
  std::unique_ptr<BackgroundCompactor> compactor;
  Status PublishOutbox(bool must);
  Status Connect();
  void ObserveVisible();
  bool CommitDue() const {
    return out->ShouldCommit() || engine->PendingChanges() >= kMaxPendingChanges ||
           outbox.size() >= kMaxOutboxBytes;
  }
  std::string MarkerGeneration() const {
    return store.store_id() + "/" + std::to_string(dtask.id) + ":";
  }

  Impl(const DatasetConfig& c, Store& s) : config(c), store(s) {}
  ~Impl() {
    compactor.reset();  // a compaction of the derived table, running: waited for
    if (applying.valid()) applying.wait();  // the state folder is ours until it is written
    if (lock_fd >= 0) ::close(lock_fd);
  }

  Status Open();
  Status StepStream(bool end_of_input, bool commit);
  Status EndOfInput(const std::map<std::pair<int64_t, int64_t>, CatalogFile>& spools);
  void Report();
  Status TakeOutput();
  Status Commit(const std::map<std::pair<int64_t, int64_t>, CatalogFile>& spools);
  Status Step(bool end_of_input);
};

Status RulesStage::Impl::Open() {
  dcfg = DerivedTableConfig(config);
  kafka = config.rules->output.connector == "kafka";
  const std::string state_dir =
      (std::filesystem::path(LocalStateDir(config)) / "rules" / config.name / "state").string();
  // First of all: recovery below touches what a running stage writes (its staged files, the
  // spool folder).
  if (lock_fd < 0) {
    // One stage per state folder: the members of a Kafka consumer group run side by side, and
    // only one of them may run the rules (and recover the derived table).
    const std::string lock_path = state_dir + ".lock";
    WEIR_RETURN_IF_ERROR(fs::CreateDirs(std::filesystem::path(lock_path).parent_path().string()));
    lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) return Status::IOError("opening " + lock_path + ": " + std::strerror(errno));
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      return Status::Aborted("the rules stage of " + config.name +
                             " runs in another process on this machine (it holds " + lock_path +
                             ")");
    }
  }
  // The derived table's folder is this dataset's, like its own table's: another dataset (or
  // store) writing the same folder is refused.
  WEIR_RETURN_IF_ERROR(ClaimOutputs(dcfg, store));
  WEIR_RETURN_IF_ERROR(RecoverPublications(dcfg, store));
  WEIR_RETURN_IF_ERROR(EnsureTableSchema(dcfg, store));
  WEIR_RETURN_IF_ERROR(store.EnsureTasks(dcfg.name, {{kRulesTaskEntry, RulesSpoolDir(config)}}));
  WEIR_ASSIGN_OR_RETURN(auto dtasks, store.Tasks(dcfg.name));
  if (dtasks.size() != 1) {
    return Status::Internal("the derived table " + dcfg.name + " has " +
                            std::to_string(dtasks.size()) + " tasks; expected one");
  }
  dtask = dtasks[0];
  consumed = ParseConsumed(dtask.counters.state);
  if (!consumed.empty()) {
    WEIR_ASSIGN_OR_RETURN(auto tasks, store.Tasks(config.name));
    std::set<int64_t> ids;
    for (const auto& t : tasks) ids.insert(t.id);
    const bool known = std::all_of(consumed.begin(), consumed.end(),
                                   [&](const auto& c) { return ids.count(c.first) > 0; });
    if (!known) {
      // The dataset was started over (--restart) and a crash came before its derived table
      // was: the progress names tasks that are gone. Start the derived records over as well.
      WEIR_ASSIGN_OR_RETURN(auto drop, DerivedTableDrop(config, store));
      WEIR_RETURN_IF_ERROR(store.ResetDataset(dcfg.name, drop));
      consumed.clear();
      return Open();
    }
  }
  seq = dtask.seq;
  derived_total = dtask.counters.written;
  {
    // Spool files the catalog no longer names: a crash came between forgetting consumed files
    // and deleting them.
    // The folder first, the catalog second: a file is in the catalog before it is renamed into
    // the folder, so one a writer (a Kafka group's other member) publishes meanwhile is named.
    std::vector<std::filesystem::path> present;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(RulesSpoolDir(config), ec)) {
      if (e.is_regular_file(ec)) present.push_back(e.path());
    }
    WEIR_ASSIGN_OR_RETURN(auto named, store.Files(config.name, "rules", ""));
    std::set<std::string> known;
    for (const auto& f : named) known.insert(std::filesystem::path(f.path).filename().string());
    for (const auto& p : present) {
      if (known.count(p.filename().string()) == 0) (void)fs::RemoveFile(p.string());
    }
  }
  // No derived commit yet (a new dataset, or one started over with --restart): whatever
  // state a crashed or reset earlier run left belongs to nothing.
  if (dtask.seq == 0) WEIR_RETURN_IF_ERROR(fs::RemoveTree(state_dir));
  WEIR_ASSIGN_OR_RETURN(state, rules::StateStore::Open(state_dir, dtask.seq));
  // rules.threads, by default one per worker: the stage's thread is the run's bottleneck once
  // the workers have parsed their files (bench/rules).
  const int threads = config.rules->threads > 0 ? config.rules->threads
                                                : std::clamp(config.compute.workers, 1, 64);
  WEIR_ASSIGN_OR_RETURN(engine, rules::Engine::Create(*config.rules, schema, nullptr, threads));
  std::vector<ColumnSchema> used;  // the columns the rules read: others may change freely
  for (size_t c : engine->input_columns()) used.push_back(schema[c]);
  fingerprint = RulesFingerprint(*config.rules, used);
  std::string stored;
  WEIR_RETURN_IF_ERROR(state->ForEach([&](std::string_view k, std::string_view v) {
    if (k == kFingerprintKey) {
      stored = std::string(v);
      return Status::OK();
    }
    return engine->Load(k, v);
  }));
  if (dtask.seq > 0 && stored != fingerprint) {
    return Status::Invalid(
        "rules: the rules or the columns they read changed since the derived records (" +
        (kafka ? "topic " + config.rules->output.topic : "table " + config.rules->output.table) +
        ") were written (their state belongs to the old rules). "
        "Run `weir run --restart` to derive everything again with the new rules, or put the "
        "old rules back");
  }
  WEIR_RETURN_IF_ERROR(engine->FinishLoad());
  late_before = engine->late();
  processed_before = engine->processed();
  dschema = ConfigTableSchema(dcfg);
  if (kafka) {
    const auto& o = config.rules->output;
    source::KafkaProducerOptions po;
    po.brokers = o.brokers;
    po.transactional_id = o.transactional_id;
    po.progress_topic = o.progress_topic;
    po.settings = o.kafka_settings;
    po.client_id = "weir-rules-" + config.name;
    producer_options = po;
    // Outbox files: ones no commit made (a crash before the store commit) go; of the rest,
    // Connect drops what Kafka has, and the others are published below, in order.
    std::error_code ec;
    std::vector<int64_t> found;
    for (const auto& e : std::filesystem::directory_iterator(OutboxDir(config), ec)) {
      const std::string name = e.path().filename().string();
      char* end = nullptr;
      const long long n = std::strtoll(name.c_str(), &end, 10);
      if (end == name.c_str() || std::string(end) != ".bin") {
        (void)fs::RemoveFile(e.path().string());  // a file being written when a crash came
        continue;
      }
      if (n > seq) {
        (void)fs::RemoveFile(e.path().string());
      } else {
        found.push_back(n);
      }
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return Status::IOError("rules: listing the outbox " + OutboxDir(config) + ": " + ec.message());
    }
    std::sort(found.begin(), found.end());
    unpublished = found;
    // Kafka's marker decides which of them it has (Connect drops those) before any is sent.
    WEIR_RETURN_IF_ERROR(Connect());
    WEIR_RETURN_IF_ERROR(PublishOutbox(true));
  } else {
    WEIR_ASSIGN_OR_RETURN(iceberg, IcebergTable::Open(dcfg, store, dschema.columns, run_tag));
  }
  out = std::make_unique<WorkerOutput>(dcfg, store, dschema.columns, run_tag + "-rules",
                                       iceberg.get());
  if (config.IsStream()) {
    out->set_commit_seconds(static_cast<double>(config.stream.commit_interval_ms) / 1000.0);
    // A files run compacts the derived table at its end (Runner, as the dataset's own table).
    if (!kafka) compactor = std::make_unique<BackgroundCompactor>(dcfg, store);
  }
  return Status::OK();
}

// The engine's derived records into the output's buffer.
Status RulesStage::Impl::TakeOutput() {
  auto rows = engine->TakeOutput();
  if (rows.empty()) return Status::OK();
  derived_total += rows.size();
  summary.derived += rows.size();
  output_buffered = true;
  if (metrics != nullptr) {
    for (const auto& d : rows) {
      auto h = metrics->rules_latency.find(d.rule);
      if (h != metrics->rules_latency.end()) to_observe.emplace_back(h->second.get(), d.event_time_ms);
    }
  }
  if (kafka) {
    // The message: the derived table's fields as a JSON object, keyed by the rule's key.
    std::string v;
    for (const auto& d : rows) {
      v = "{\"rule\":";
      AppendJsonString(v, d.rule);
      v += ",\"key\":";
      AppendJsonString(v, d.key);
      v += ",\"event_time\":";
      AppendJsonString(v, FormatTimestampMs(d.event_time_ms));
      v += ",\"data\":";
      v += d.data;
      v += '}';
      AppendLengthPrefixed(outbox, d.key);
      AppendLengthPrefixed(outbox, v);
    }
    return Status::OK();
  }
  ColumnBatch b(dschema.columns);
  for (const auto& d : rows) {
    b.columns[0].AppendString(d.rule);
    b.columns[1].AppendString(d.key);
    b.columns[2].AppendInt64(d.event_time_ms);
    b.columns[3].AppendString(d.data);
    b.columns[4].AppendDate(static_cast<int32_t>(FloorDiv(d.event_time_ms, 86400000)));
  }
  return out->Append(b, dtask.id).status();
}

Status RulesStage::Impl::Commit(const std::map<std::pair<int64_t, int64_t>, CatalogFile>& spools) {
  if (!moved) return Status::OK();
  WEIR_RETURN_IF_ERROR(TakeOutput());
  std::vector<rules::Engine::Change> changes;
  engine->TakeChanges(changes);
  if (seq == 0) changes.emplace_back(kFingerprintKey, fingerprint);
  const int64_t next = seq + 1;
  WEIR_RETURN_IF_ERROR(WaitApplied());
  WEIR_RETURN_IF_ERROR(state->Prepare(changes, next));
  TaskCounters c = dtask.counters;
  c.state = FormatConsumed(consumed);
  c.read = engine->processed();
  c.skipped = engine->late();
  c.written = derived_total;
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - t0).count();
  std::string none;
  out->Update(dtask, c, dtask.duration_ms + ms, none, std::nullopt);
  if (!outbox.empty()) {
    // Durable before the commit that makes it part of checkpoint `next` (a crash before the
    // commit leaves a file Open drops).
    const std::string path = OutboxPath(config, next);
    WEIR_RETURN_IF_ERROR(fs::CreateDirs(OutboxDir(config)));
    WEIR_RETURN_IF_ERROR(fs::WriteFile(path + ".tmp", outbox));
    WEIR_RETURN_IF_ERROR(fs::Rename(path + ".tmp", path));
    WEIR_RETURN_IF_ERROR(fs::SyncFilesystem(path));  // the bytes and the rename
  }
  if (Status st = out->Commit(); !st.ok()) {
    // The run stops here and the next one goes on from the last durable commit. If the store
    // transaction happened (the commit failed while publishing), the checkpoint is the
    // committed state and recovery finishes the publication; if not, it goes.
    auto row = store.Task(dtask.id);
    Status fix = row.ok() && row->seq == next ? state->Apply(next) : state->Discard(next);
    if (!fix.ok()) return st.WithContext("rules stage (and its state: " + fix.message() + ")");
    return st.WithContext("rules stage");
  }
  if (!outbox.empty()) {
    unpublished.push_back(next);
    outbox.clear();
  }
  seq = next;
  if (kafka) {
    // Crash point between the store commit and Kafka's: Open publishes the outbox file.
    CrashPoint("rules-before-publish", next);
    WEIR_RETURN_IF_ERROR(PublishOutbox(false));
  } else {
    ObserveVisible();
    if (compactor) compactor->AfterCommit(run_tag + "-rules");
  }
  // Crash point between the two commits: the store has checkpoint `next`, RocksDB only its
  // redo (Open applies it). Counted in the stage's commits.
  CrashPoint("rules-before-apply", next);
  applying = std::async(std::launch::async, [st = state.get(), next] { return st->Apply(next); });
  moved = false;
  output_buffered = false;
  // Spool files the committed progress has passed are read for the last time: forget them,
  // then delete them (a crash in between leaves files nothing names, never the other way
  // round).
  std::vector<int64_t> ids;
  std::vector<std::string> paths;
  for (const auto& [pos, f] : spools) {
    auto it = consumed.find(pos.first);
    if (it == consumed.end() || pos.second > it->second) continue;
    ids.push_back(f.id);
    paths.push_back(f.path);
  }
  if (!ids.empty()) {
    WEIR_RETURN_IF_ERROR(store.DeleteFiles(ids));
    for (const auto& p : paths) (void)fs::RemoveFile(p);
  }
  return Status::OK();
}

Status RulesStage::Impl::Step(bool end_of_input) {
  // Commits a broker could not take wait for no new input.
  if (kafka) WEIR_RETURN_IF_ERROR(PublishOutbox(false));
  if (config.IsStream()) return StepStream(end_of_input, false);
  WEIR_ASSIGN_OR_RETURN(auto tasks, store.Tasks(config.name));
  std::sort(tasks.begin(), tasks.end(),
            [](const TaskRow& a, const TaskRow& b) { return a.id < b.id; });
  // Listed after the tasks: a task seen finished has all its spool files in this list. One
  // still `pending` (committed, not yet renamed into place by its writer) stops the step there.
  WEIR_ASSIGN_OR_RETURN(auto files, store.Files(config.name, "rules", ""));
  std::map<std::pair<int64_t, int64_t>, CatalogFile> spools;
  for (const auto& f : files) {
    if (f.state != "published" && f.state != "pending") continue;
    int64_t task = 0, s = 0;
    if (!SpoolPosition(f.path, &task, &s)) {
      return Status::Corruption("rules spool file " + f.path + " has an unexpected name");
    }
    spools[{task, s}] = f;
  }
  bool all_finished = true;
  summary.waiting = false;
  for (const TaskRow& t : tasks) {
    bool ready = true;
    for (auto it = spools.lower_bound({t.id, 0}); it != spools.end() && it->first.first == t.id;
         ++it) {
      auto done = consumed.find(t.id);
      if (done != consumed.end() && it->first.second <= done->second) continue;
      if (it->second.state != "published") {
        ready = false;
        break;
      }
      WEIR_ASSIGN_OR_RETURN(std::string bytes, fs::ReadFile(it->second.path));
      WEIR_RETURN_IF_ERROR(engine->PushEncoded(bytes).WithContext(it->second.path));
      consumed[t.id] = it->first.second;
      moved = true;
      WEIR_RETURN_IF_ERROR(TakeOutput());
      if (CommitDue()) WEIR_RETURN_IF_ERROR(Commit(spools));
    }
    if (!ready || !Finished(t.status)) {
      // Later tasks' records come after this one's: they wait for it. (Its spool files
      // committed after the listing above are read by the next step.)
      all_finished = false;
      summary.waiting = true;
      break;
    }
  }
  if (end_of_input && all_finished) WEIR_RETURN_IF_ERROR(EndOfInput(spools));
  // Between the ends, commits come as a task's do (compute.checkpoint_seconds, or by size):
  // each commit writes a file per partition (rule, day) it touches.
  if (end_of_input || out->ShouldCommit()) WEIR_RETURN_IF_ERROR(Commit(spools));
  if (end_of_input) WEIR_RETURN_IF_ERROR(WaitApplied());  // its failure is this run's
  if (end_of_input && kafka) WEIR_RETURN_IF_ERROR(PublishOutbox(true));
  Report();
  return Status::OK();
}

// The end of a finite input: every pending timer fires.
Status RulesStage::Impl::EndOfInput(
    const std::map<std::pair<int64_t, int64_t>, CatalogFile>& spools) {
  // The state as the input left it (reported: what keys hold before the end fires them).
  WEIR_RETURN_IF_ERROR(Commit(spools));
  summary.keys = engine->keys();
  summary.state_bytes = state->DiskBytes();
  const int64_t w = engine->watermark();
  engine->AdvanceWatermark(rules::Engine::kEndOfTime);
  engine->RestoreWatermark(w);
  moved = true;
  flushed = true;
  return Status::OK();
}

void RulesStage::Impl::Report() {
  if (!flushed) {
    summary.keys = engine->keys();
    summary.state_bytes = state->DiskBytes();
  }
  summary.events = engine->processed() - processed_before;
  summary.late = engine->late() - late_before;
  summary.watermark_ms = engine->watermark();
  if (metrics != nullptr) {
    metrics->rules_events = summary.events;
    metrics->rules_late = summary.late;
    metrics->rules_keys = engine->keys();
    metrics->rules_watermark_ms = summary.watermark_ms;
  }
}

// The derived records committed (the lake) or published (Kafka) so far are visible: their
// latency is observed.
void RulesStage::Impl::ObserveVisible() {
  if (!unpublished.empty()) return;
  if (metrics != nullptr) {
    const int64_t now = UnixNowMs();
    for (const auto& [h, t] : to_observe) h->Observe(static_cast<double>(now - t) / 1000.0);
    metrics->rules_derived.fetch_add(to_observe.size(), std::memory_order_relaxed);
  }
  to_observe.clear();
}

// A producer that knows what Kafka has: a new one (its init_transactions ends whatever an
// earlier one left, in this process or a killed one), and this generation's last marker, which
// settles the outbox files Kafka has already (dropped).
Status RulesStage::Impl::Connect() {
  producer.reset();
  WEIR_ASSIGN_OR_RETURN(auto p, source::KafkaTxnProducer::Create(producer_options));
  // The marker names the stage's generation (the store and the derived task, new after
  // --restart) and its commit: "<store id>/<task id>:<commit>".
  const std::string generation = MarkerGeneration();
  WEIR_ASSIGN_OR_RETURN(std::string marker, p->LastMarker(generation));
  const int64_t published =
      marker.empty() ? 0 : std::strtoll(marker.c_str() + generation.size(), nullptr, 10);
  if (published > seq) {
    return Status::Corruption(
        "rules: Kafka has this stage's derived records up to commit " +
        std::to_string(published) + " (" + producer_options.progress_topic +
        "), but the store's checkpoint is commit " + std::to_string(seq) +
        "; was the store restored from a backup? Set rules.output.transactional_id to a new "
        "value and run with --restart to write the derived records again");
  }
  while (!unpublished.empty() && unpublished.front() <= published) {
    (void)fs::RemoveFile(OutboxPath(config, unpublished.front()));
    unpublished.erase(unpublished.begin());
  }
  producer = std::move(p);
  return Status::OK();
}

// Publishes the committed outbox files Kafka does not have yet, in commit order, each in one
// transaction with its marker. `must`: the run starts or ends here, so a failure that outlasts
// a few attempts is the run's; otherwise an unreachable broker is retried at the next step (the
// files wait in the outbox; the stage goes on reading and committing).
Status RulesStage::Impl::PublishOutbox(bool must) {
  int failures = 0;
  while (!unpublished.empty()) {
    Status st;
    if (!must && std::chrono::steady_clock::now() < retry_at) return Status::OK();
    if (producer == nullptr) st = Connect();
    if (st.ok() && !unpublished.empty()) {
      const int64_t n = unpublished.front();
      const std::string path = OutboxPath(config, n);
      WEIR_ASSIGN_OR_RETURN(std::string bytes, fs::ReadFile(path));
      WEIR_ASSIGN_OR_RETURN(auto records, DecodeOutbox(bytes, path));
      st = producer->Publish(config.rules->output.topic, records,
                             MarkerGeneration() + std::to_string(n));
      if (st.ok()) {
        unpublished.erase(unpublished.begin());
        // Crash point between Kafka's commit and forgetting the file: Open drops it (the
        // marker says Kafka has it).
        CrashPoint("rules-after-publish", n);
        (void)fs::RemoveFile(path);
        continue;
      }
      producer.reset();  // a new one settles the transaction this one left (Connect)
    }
    if (!st.retryable() || (must && ++failures >= 3)) {
      return st.WithContext("rules: " + std::to_string(unpublished.size()) +
                            " commit(s) of derived records wait in " + OutboxDir(config) +
                            " (the next run publishes them)");
    }
    spdlog::warn("rules: publishing to Kafka: {}; {} commit(s) wait in {} (retrying)",
                 st.message(), unpublished.size(), OutboxDir(config));
    retry_at = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    if (must) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ObserveVisible();
  return Status::OK();
}

// A stream's step: its tasks (partitions) never finish, so their spool files are read in commit
// order (catalog order) as they come, each as rows of its own input (Engine::SetInput), and the
// watermark follows the clock once the source has been idle for rules.idle_timeout.
Status RulesStage::Impl::StepStream(bool end_of_input, bool commit) {
  // Read before the listing: when the source says it is idle, everything it read is committed,
  // so the listing below has all of it.
  // The clock first: the advance below goes no further than this moment minus
  // out_of_orderness, however long this step takes.
  const int64_t now = UnixNowMs();
  const int64_t idle_since = idle != nullptr ? idle->since_ms.load(std::memory_order_acquire) : 0;
  WEIR_ASSIGN_OR_RETURN(auto files, store.Files(config.name, "rules", ""));
  std::sort(files.begin(), files.end(),
            [](const CatalogFile& a, const CatalogFile& b) { return a.id < b.id; });
  std::map<std::pair<int64_t, int64_t>, CatalogFile> spools;
  struct Unread {
    int64_t task, seq;
    std::string commit;  // the writer's commit that wrote it
    const CatalogFile* file;
  };
  std::vector<Unread> unread;  // in commit order
  for (const auto& f : files) {
    if (f.state != "published" && f.state != "pending") continue;
    int64_t task = 0, s = 0;
    std::string commit;
    if (!SpoolPosition(f.path, &task, &s, &commit)) {
      return Status::Corruption("rules spool file " + f.path + " has an unexpected name");
    }
    const CatalogFile& kept = spools[{task, s}] = f;
    auto done = consumed.find(task);
    if (done == consumed.end() || s > done->second) unread.push_back({task, s, commit, &kept});
  }
  bool pending = false;
  for (size_t i = 0; i < unread.size() && !pending;) {
    // One commit's files (one per partition it held rows of), read together: every input
    // among them is known before the first row (Engine::SetInput), so a partition's rows
    // never move the watermark past another's of the same commit. Decided by the spool alone,
    // so a replay registers the same inputs at the same rows.
    size_t j = i;
    while (j < unread.size() && unread[j].commit == unread[i].commit) {
      pending |= unread[j].file->state != "published";  // committed, not in place yet: waits
      ++j;
    }
    if (pending) break;
    for (size_t k = i; k < j; ++k) engine->SetInput(unread[k].task);
    for (; i < j; ++i) {
      const Unread& u = unread[i];
      WEIR_ASSIGN_OR_RETURN(std::string bytes, fs::ReadFile(u.file->path));
      engine->SetInput(u.task);
      WEIR_RETURN_IF_ERROR(engine->PushEncoded(bytes).WithContext(u.file->path));
      consumed[u.task] = u.seq;
      moved = true;
      WEIR_RETURN_IF_ERROR(TakeOutput());
      if (CommitDue()) WEIR_RETURN_IF_ERROR(Commit(spools));
    }
  }
  summary.waiting = pending;
  // (Not when stopping anywhere, --max-records: nothing fires that the input has not passed.)
  if (!commit && !pending && idle_since > 0 && now - idle_since >= config.rules->idle_timeout_ms) {
    // Nothing came for idle_timeout: the watermark follows the clock (docs/rules.md), so
    // reminders and window expiries fire without new events.
    const int64_t w = engine->watermark();
    engine->AdvanceWatermark(now - config.rules->out_of_orderness_ms);
    if (engine->watermark() != w) {
      moved = true;
      WEIR_RETURN_IF_ERROR(TakeOutput());
    }
  }
  if (end_of_input && !pending) WEIR_RETURN_IF_ERROR(EndOfInput(spools));
  // Derived records are committed at once (their latency is the point of a stream); progress
  // alone every stream.commit_interval.
  if (commit || end_of_input || output_buffered || out->ShouldCommit()) {
    WEIR_RETURN_IF_ERROR(Commit(spools));
  }
  if (commit || end_of_input) WEIR_RETURN_IF_ERROR(WaitApplied());  // its failure is this run's
  if ((commit || end_of_input) && kafka) WEIR_RETURN_IF_ERROR(PublishOutbox(true));
  Report();
  return Status::OK();
}

RulesStage::RulesStage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RulesStage::~RulesStage() = default;

Result<std::unique_ptr<RulesStage>> RulesStage::Open(const DatasetConfig& config, Store& store,
                                                     const std::vector<ColumnSchema>& schema,
                                                     const std::string& run_tag,
                                                     const SourceIdle* idle) {
  auto impl = std::make_unique<Impl>(config, store);
  impl->idle = idle;
  impl->schema = schema;
  impl->run_tag = run_tag;
  WEIR_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<RulesStage>(new RulesStage(std::move(impl)));
}

Status RulesStage::Step(bool end_of_input) {
  if (end_of_input && impl_->compactor) impl_->compactor->Close();  // the run's end compacts
  return impl_->Step(end_of_input);
}
void RulesStage::set_metrics(StreamMetrics* metrics) { impl_->metrics = metrics; }

void AddRulesMetrics(const DatasetConfig& config, StreamMetrics& metrics) {
  if (!config.rules) return;
  metrics.rules = true;
  for (const auto& p : config.rules->patterns) {
    metrics.rules_latency.try_emplace(p.name, std::make_unique<LatencyHistogram>());
  }
  for (const auto& g : config.rules->segments) {
    metrics.rules_latency.try_emplace(g.name, std::make_unique<LatencyHistogram>());
  }
}
Status RulesStage::Stop() {
  if (!impl_->config.IsStream()) return Status::OK();
  if (impl_->compactor) impl_->compactor->Close();
  return impl_->StepStream(false, true);
}
const RulesSummary& RulesStage::summary() const { return impl_->summary; }

}  // namespace weir
