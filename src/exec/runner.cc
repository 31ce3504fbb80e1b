#include "exec/runner.h"
#include "exec/rules_stage.h"
#include "rules/engine.h"

#include <fcntl.h>
#include <fnmatch.h>
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
#include <random>
#include <filesystem>
#include <set>
#include <mutex>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/interrupt.h"
#include "core/store_url.h"
#include "core/text.h"
#include "exec/lake_claim.h"
#include "exec/lake_maintenance.h"
#include "exec/parser_source.h"
#include "exec/reader_task.h"
#include "exec/table_schema.h"
#include "exec/transforms.h"
#include "exec/dedup.h"
#include "exec/heartbeat.h"
#include "exec/iceberg_table.h"
#include "exec/kafka_stream.h"
#include "exec/stream_metrics.h"
#include "exec/task_executor.h"
#include "exec/worker_output.h"
#include "io/file_identity.h"
#include "io/fs.h"
#include "io/s3_client.h"
#include "io/segment_log.h"
#include "lake/file_writer.h"
#include "lake/partitioned_buffer.h"
#include "parse/projector.h"
#include "plugin/plugin_loader.h"

namespace weir {
namespace stdfs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string TableDir(const DatasetConfig& c) { return c.write.location + "/" + c.write.table; }
// Staging is always on local disk: files are encoded there, then renamed into a local lake or
// uploaded to their final object names on S3 (which has no rename), beside the store.
std::string DataStagingDir(const DatasetConfig& c) {
  if (fs::IsRemote(c.write.location)) {
    return (stdfs::path(LocalStateDir(c)) / "_staging" / "data" / c.write.table).string();
  }
  return c.write.location + "/_staging/" + c.write.table;
}
std::string ErrorsDir(const DatasetConfig& c) { return c.errors.location + "/" + c.name; }
std::string ErrorsStagingDir(const DatasetConfig& c) {
  if (fs::IsRemote(c.errors.location)) {
    return (stdfs::path(LocalStateDir(c)) / "_staging" / "errors" / c.name).string();
  }
  return c.errors.location + "/_staging/" + c.name;
}
std::string RulesSpoolDir(const DatasetConfig& c) {
  return (stdfs::path(LocalStateDir(c)) / "rules" / c.name / "spool").string();
}
std::string RulesSpoolStagingDir(const DatasetConfig& c) {
  return (stdfs::path(LocalStateDir(c)) / "rules" / c.name / "_staging").string();
}
std::string StreamLogDir(const DatasetConfig& c) {
  return (stdfs::path(LocalStateDir(c)) / "streams" / c.name).string();
}

namespace {

// The lexically normal form of a manifest path: "./a.jsonl" and "sub/../a.jsonl" are "a.jsonl".
std::string NormalManifestPath(const std::string& p) {
  std::string n = stdfs::path(p).lexically_normal().string();
  return n.empty() ? "." : n;
}

std::string AbsoluteInputPath(const DatasetConfig& c, const std::string& p) {
  return stdfs::path(p).is_absolute() ? NormalManifestPath(p) : fs::ResolveInput(c.read.location, p);
}

// "dev:ino" of an existing file (symlinks followed), or "" when stat fails.
std::string DeviceInodeKey(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

}  // namespace

Result<ManifestChanges> ReconcileManifest(
    Store& store, const std::vector<std::pair<std::string, std::string>>& entries,
    std::vector<TaskRow>& tasks) {
  ManifestChanges changes;
  std::map<std::string, std::string> manifest_paths(entries.begin(), entries.end());
  std::set<std::string> manifest_files;  // a task from an older spelling of an entry matches by path
  for (const auto& [entry, path] : entries) manifest_files.insert(path);
  for (auto& t : tasks) {
    auto in_manifest = manifest_paths.find(t.entry);
    if (in_manifest == manifest_paths.end() && !manifest_files.count(t.path)) {
      // The entry left the manifest: its committed rows stay, the task is not run any more.
      changes.outside.insert(t.id);
      if (t.status == TaskStatus::kCompleted || t.status == TaskStatus::kRetired) continue;
      WEIR_ASSIGN_OR_RETURN(
          bool retired,
          store.RetireTask(t.id, "manifest entry removed (was " +
                                     std::string(TaskStatusName(t.status)) +
                                     "); its committed rows stay in the lake; put the entry "
                                     "back to resume it"));
      if (retired) {
        t.status = TaskStatus::kRetired;
        ++changes.retired;
      }
      continue;
    }
    // The manifest resolves paths anew each time (a moved project folder reads its own files).
    if (in_manifest != manifest_paths.end() && in_manifest->second != t.path) {
      WEIR_RETURN_IF_ERROR(store.SetTaskPath(t.id, in_manifest->second));
      t.path = in_manifest->second;
      ++changes.moved;
    }
    if (t.status == TaskStatus::kRetired) {
      WEIR_RETURN_IF_ERROR(store.SetStatus(t.id, TaskStatus::kCreated, "manifest entry back"));
      t.status = TaskStatus::kCreated;
      ++changes.reinstated;
    }
  }
  return changes;
}

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

void UseDatasetStorage(const DatasetConfig& c) {
  s3::SetDefaultStorage(c.storage.endpoint, c.storage.region,
                        c.storage.path_style ? (*c.storage.path_style ? 1 : 0) : -1);
}

namespace {

// read.manifest: {list, glob}: the files under the listed folder or S3 prefix that match.
Result<std::vector<std::pair<std::string, std::string>>> ListInputs(const DatasetConfig& c) {
  const std::string& list = c.read.manifest_list;
  const std::string& glob = c.read.manifest_glob;
  auto bad = [&](const std::string& why) {
    return Status::Invalid("read.manifest.list: " + list + ": " + why);
  };
  std::vector<std::string> names;
  if (s3::IsS3Url(list)) {
    UseDatasetStorage(c);
    WEIR_ASSIGN_OR_RETURN(s3::Url url, s3::ParseUrl(list));
    std::string prefix = url.key;
    if (!prefix.empty() && prefix.back() != '/') prefix += '/';
    WEIR_ASSIGN_OR_RETURN(auto client, s3::DefaultClient());
    auto listed = client->List(url.bucket, prefix);
    if (!listed.ok()) return bad(listed.status().message());
    for (const auto& o : *listed) {
      const std::string rel = o.key.substr(prefix.size());
      if (!rel.empty() && rel.back() != '/') names.push_back(rel);  // "folder/" markers are not files
    }
  } else {
    struct stat st;
    if (::stat(list.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return bad("is not a folder (a listing reads the files under a folder or an s3:// prefix)");
    }
    auto listed = fs::ListFilesRecursive(list);
    if (!listed.ok()) return bad(listed.status().message());
    names = std::move(*listed);
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& rel : names) {
    if (::fnmatch(glob.c_str(), rel.c_str(), 0) != 0) continue;
    out.emplace_back(rel, AbsoluteInputPath(c, rel));
  }
  if (out.empty()) {
    return bad("no file matches '" + glob + "' (" + std::to_string(names.size()) +
               " file(s) listed)");
  }
  return out;
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> ReadManifest(
    const DatasetConfig& c, const std::vector<sdk::RecordType>* multi_file_types) {
  if (!c.read.manifest_list.empty()) return ListInputs(c);
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

Result<std::vector<std::pair<std::string, std::string>>> TaskEntries(
    const DatasetConfig& c, const ParserSource* source) {
  const bool multi_file = source && source->shape() == Shape::kMultiFile;
  WEIR_ASSIGN_OR_RETURN(auto entries, ReadManifest(c, multi_file ? &source->types() : nullptr));
  if (multi_file) {
    // A task's path lists every file of the entry, absolute; an entry that does not split
    // keeps its text, and its task fails with the reason when it runs.
    for (auto& [entry, path] : entries) {
      auto parts = MultiFileEntryPaths(c, entry, source->types());
      if (!parts.ok()) continue;
      path.clear();
      for (size_t i = 0; i < parts->size(); ++i) {
        path += (i ? "|" : "") + source->types()[i].name + ":" + (*parts)[i];
      }
    }
  }
  return entries;
}

std::string SubmissionDigest(const std::string& file, const std::string& yaml) {
  // FNV-1a over the file's path and text: a change of either is a new definition.
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 0x100000001b3ull;
    }
  };
  mix(file);
  mix(std::string_view("\0", 1));
  mix(yaml);
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Status CheckSubmittedDefinition(const DatasetConfig& c, Store& store) {
  WEIR_ASSIGN_OR_RETURN(auto submitted, store.Submitted(c.name));
  if (!submitted) return Status::OK();
  WEIR_ASSIGN_OR_RETURN(std::string yaml, fs::ReadFile(c.file));
  if (SubmissionDigest(c.file, yaml) == submitted->digest) return Status::OK();
  return Status::Aborted(
      "dataset '" + c.name + "' is being run by weir workers as submitted from " +
      submitted->file + " (" + submitted->submitted_at + "), and " + c.file +
      " differs from that definition: running both would mix two configurations in one table. "
      "`weir submit --replace " + c.file + "` makes this the definition the workers run");
}

Result<std::unique_ptr<DatasetLock>> DatasetLock::Acquire(const DatasetConfig& c, bool wait) {
  std::string dir = LocalStateDir(c);
  WEIR_RETURN_IF_ERROR(fs::CreateDirs(dir));
  std::string path = dir + "/" + c.name + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("opening lock " + path, false);
  if (::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    ::close(fd);
    return Status::Aborted("dataset '" + c.name + "' is being run by another weir process (lock " +
                           path + " is held); wait for it to finish");
  }
  std::unique_ptr<DatasetLock> lock(new DatasetLock(fd));
  WEIR_RETURN_IF_ERROR(lock->LockStore(c, /*shared=*/false, wait));
  return lock;
}

Status DatasetLock::LockStore(const DatasetConfig& c, bool shared, bool wait) {
  if (!IsPostgresStoreUrl(c.store)) return Status::OK();
  const int64_t key = AdvisoryLockKey("weir-dataset:" + c.name);
  const auto mode = shared ? AdvisoryLock::Mode::kShared : AdvisoryLock::Mode::kExclusive;
  bool told = false;
  for (;;) {
    auto got = AdvisoryLock::Try(c.store, key, mode);
    if (got.ok()) {
      store_lock_ = std::move(got).value();
      return Status::OK();
    }
    if (got.status().code() != StatusCode::kAborted) return got.status();
    if (!wait) {
      return Status::Aborted("dataset '" + c.name +
                             "' is being run by another weir process using the same store (its "
                             "lock in " + RedactStoreUrl(c.store) +
                             " is held: from another machine or another folder); wait for it to "
                             "finish");
    }
    if (!told) {
      spdlog::info("{}: waiting for the dataset's lock in the store {} (held by another weir "
                   "process using the same store)", c.name, RedactStoreUrl(c.store));
      told = true;
    }
    if (StopRequested()) return Status::Aborted("stopped while waiting for the dataset's lock");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Result<std::unique_ptr<DatasetLock>> DatasetLock::AcquireShared(const DatasetConfig& c,
                                                                bool* alone, bool wait) {
  auto lock = Acquire(c, false);
  if (lock.ok()) {
    *alone = true;
    return lock;
  }
  *alone = false;
  const std::string path = LocalStateDir(c) + "/" + c.name + ".lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("opening lock " + path, false);
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    if (!wait) {
      ::close(fd);
      return Status::Aborted("dataset '" + c.name + "' is held exclusively by another weir "
                             "process on this machine (lock " + path + ")");
    }
    spdlog::info("{}: waiting for the lock {} (another process holds it exclusively: a group "
                 "member starting, or a lake maintenance command)", c.name, path);
    while (::flock(fd, LOCK_SH) != 0) {
      if (errno == EINTR && !StopRequested()) continue;
      ::close(fd);
      return Status::Aborted("stopped while waiting for the lock " + path);
    }
  }
  std::unique_ptr<DatasetLock> shared(new DatasetLock(fd));
  WEIR_RETURN_IF_ERROR(shared->LockStore(c, /*shared=*/true, wait));
  return shared;
}

Status DatasetLock::Share() {
  while (::flock(fd_, LOCK_SH) != 0) {
    if (errno != EINTR) return fs::ErrnoStatus("sharing the dataset lock", "", errno);
  }
  return store_lock_ ? store_lock_->Share() : Status::OK();
}

DatasetLock::~DatasetLock() { ::close(fd_); }

Status RecoverPublications(const DatasetConfig& config, Store& store) {
  WEIR_RETURN_IF_ERROR(PublishPendingFiles(config, store));
  WEIR_RETURN_IF_ERROR(DeleteSuperseded(config, store));
  // Whatever is still staged was never committed: a crash before its commit. Discard it.
  WEIR_RETURN_IF_ERROR(fs::RemoveTree(DataStagingDir(config)));
  WEIR_RETURN_IF_ERROR(fs::RemoveTree(ErrorsStagingDir(config)));
  WEIR_RETURN_IF_ERROR(fs::RemoveTree(RulesSpoolStagingDir(config)));
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
  // Records that parse now reach the rules too: their task's spool gets them with the commit,
  // and the next `weir run` reads them as they arrive (docs/rules.md, later runs).
  std::unique_ptr<rules::Engine> rules_encoder;
  if (config_.rules) {
    WEIR_ASSIGN_OR_RETURN(rules_encoder, rules::Engine::Create(*config_.rules, schema));
    out.set_rules(rules_encoder.get());
  }
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
  // s3:// inputs are served by the dataset's storage (unset fields: the environment).
  UseDatasetStorage(config_);
  // The members of a Kafka stream's consumer group run side by side (docs/streams.md); they
  // recover the dataset as a whole only when alone.
  bool alone = true;
  bool claim = options.claim;
  std::unique_ptr<DatasetLock> lock;
  if (config_.read.connector == "kafka") {
    WEIR_ASSIGN_OR_RETURN(lock, DatasetLock::AcquireShared(config_, &alone));
    if (options.restart && !alone) {
      return Status::Aborted("dataset '" + config_.name +
                             "' is being consumed by other weir processes of its consumer group; "
                             "stop them all before `weir run --restart`");
    }
  } else if (claim) {
    if (config_.IsStream() || options.restart || options.redrive || options.rescan) {
      return Status::Invalid("claiming tasks from the store (weir worker) is for files datasets, "
                             "without --restart, --rescan or a redrive");
    }
    // Never waits: a worker goes on with its other datasets meanwhile.
    WEIR_ASSIGN_OR_RETURN(lock, DatasetLock::AcquireShared(config_, &alone, /*wait=*/false));
  } else {
    auto own = DatasetLock::Acquire(config_, false);
    if (!own.ok() && own.status().code() == StatusCode::kAborted && !config_.IsStream() &&
        !options.restart && !options.rescan) {
      // Held shared: `weir worker`s are running the dataset. Join them, claiming its tasks from
      // the store like they do, if they run this very definition.
      bool joined_alone = false;
      auto shared = DatasetLock::AcquireShared(config_, &joined_alone, /*wait=*/false);
      if (!shared.ok()) return own.status();
      WEIR_RETURN_IF_ERROR(CheckSubmittedDefinition(config_, store_));
      lock = std::move(shared).value();
      alone = joined_alone;
      claim = true;
      uint64_t requeued = 0;
      if (options.redrive) {
        // The ERROR tasks go back to the queue the workers claim from: they, and this run,
        // resume them from their checkpoints.
        WEIR_ASSIGN_OR_RETURN(auto all, store_.Tasks(config_.name));
        for (const auto& t : all) {
          if (t.status != TaskStatus::kError) continue;
          WEIR_RETURN_IF_ERROR(store_.SetStatus(
              t.id, TaskStatus::kCreated,
              "redriven beside the workers (was ERROR: " + t.reason + ")", t.attempts));
          ++requeued;
        }
      }
      spdlog::info("{}: weir workers are running this dataset; this {} joins them, claiming "
                   "its tasks from the store{}",
                   config_.name, options.redrive ? "redrive" : "run",
                   options.redrive ? " (" + std::to_string(requeued) + " ERROR task(s) requeued)"
                                   : std::string());
    } else {
      WEIR_ASSIGN_OR_RETURN(lock, std::move(own));
    }
  }
  // Every claim is leased, in every mode: `weir tasks` shows who holds what, and workers never
  // take a task whose holder still beats.
  Lease lease = options.lease;
  if (lease.owner.empty()) lease.owner = ProcessWorkerId();
  const bool wait_for_others = claim && (options.wait_for_others || !options.claim);
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
  const bool kafka = config_.read.connector == "kafka";
  if (kafka && source && source->shape() != Shape::kParser) {
    return Status::Invalid("read.parser: " + config_.read.parser +
                           " reads documents made of several records (a state machine or a "
                           "multi-file reader); a kafka source needs one record per message");
  }
  std::vector<std::pair<std::string, std::string>> entries;
  if (claim) {
    // The tasks are those `weir submit` made; workers need not see the manifest at all.
  } else if (kafka) {
    // Tasks are made per partition as the consumer group assigns them (exec/kafka_stream.h).
  } else if (stream) {
    // The HTTP collector's log is one task; its checkpoint is the log's global offset.
    entries.emplace_back(kCollectorTaskEntry, StreamLogDir(config_));
  } else {
    WEIR_ASSIGN_OR_RETURN(entries, TaskEntries(config_, source.get()));
  }
  WEIR_ASSIGN_OR_RETURN(auto transforms, Transforms::Create(config_));
  if (options.restart) {
    // Nothing is reset while the catalog names a file this dataset must not delete (a store
    // copied from another project folder before paths were relative).
    WEIR_ASSIGN_OR_RETURN(auto all_files, store_.Files(config_.name, "", ""));
    for (const auto& f : all_files) WEIR_RETURN_IF_ERROR(CheckDatasetOutputPath(config_, f.path));
    // Crash-safe: one transaction forgets the tasks and marks every file superseded; only then
    // are files deleted (by the recovery below, or by the next run's after a crash).
    // The table's catalog row is keyed by write.table alone: another dataset's row is refused
    // here, and the store drops only the row checked.
    std::optional<IcebergTableDrop> iceberg_table;
    if (UsesIceberg(config_)) {
      WEIR_ASSIGN_OR_RETURN(auto row, DatasetIcebergRow(config_, store_));
      iceberg_table = IcebergTableDrop{kIcebergNamespace, config_.write.table,
                                       row ? row->metadata_location : std::string()};
    }
    WEIR_RETURN_IF_ERROR(store_.ResetDataset(config_.name, iceberg_table));
    if (config_.rules) {
      // The derived records start over too (their state goes when the rules stage finds the
      // derived table without commits).
      WEIR_ASSIGN_OR_RETURN(auto drop, DerivedTableDrop(config_, store_));
      WEIR_RETURN_IF_ERROR(store_.ResetDataset(DerivedTableConfig(config_).name, drop));
    }
    CrashPoint("after-reset", 0);
  }
  if (alone) {
    WEIR_RETURN_IF_ERROR(RecoverPublications(config_, store_));
  } else {
    // Other members are running: only what dead ones left is ours to finish.
    WEIR_ASSIGN_OR_RETURN(auto gate, CommitGate::Acquire(config_));
    WEIR_RETURN_IF_ERROR(RecoverDeadWriters(config_, store_));
    WEIR_RETURN_IF_ERROR(RecoverIcebergTable(config_, store_));
  }
  if (options.restart) {
    fs::PruneEmptyFolders(TableDir(config_));
    fs::PruneEmptyFolders(ErrorsDir(config_));
  }
  WEIR_RETURN_IF_ERROR(EnsureTableSchema(config_, store_));  // exec/table_schema.h
  // Recovered, and the table's schema is recorded: other members of the group may start now.
  if ((kafka || claim) && alone) WEIR_RETURN_IF_ERROR(lock->Share());
  if (!claim) {
    WEIR_ASSIGN_OR_RETURN(auto known, store_.Tasks(config_.name));
    AdoptStoredSpellings(entries, known, !multi_file);
    WEIR_RETURN_IF_ERROR(store_.EnsureTasks(config_.name, entries));
  }
  WEIR_ASSIGN_OR_RETURN(auto tasks, store_.Tasks(config_.name));
  RunSummary summary;
  std::map<int64_t, TaskCounters> before;  // to report what this run added
  for (const auto& t : tasks) before[t.id] = t.counters;
  int64_t last_file_before = 0;  // data files with larger ids are this run's
  {
    WEIR_ASSIGN_OR_RETURN(auto files, store_.Files(config_.name, "data", ""));
    for (const auto& f : files) last_file_before = std::max(last_file_before, f.id);
  }

  // Partitions come from the group, claimed tasks from the store (as `weir submit` left them).
  ManifestChanges manifest;
  if (!kafka && !claim) {
    WEIR_ASSIGN_OR_RETURN(manifest, ReconcileManifest(store_, entries, tasks));
  }
  std::deque<TaskRow> queue;
  for (auto& t : tasks) {
    if (kafka || claim) break;
    if (manifest.outside.count(t.id) || t.status == TaskStatus::kRetired) continue;
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
  // Unique per run and worker, so file names never collide with earlier runs' files, nor with
  // another machine's run of the same dataset starting in the same microsecond (on S3 a name
  // is final from the upload on, and nothing stops an upload from replacing an object).
  const std::string run_tag = [] {
    char b[48];
    std::snprintf(b, sizeof(b), "%llx%04x", static_cast<unsigned long long>(
        std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::system_clock::now().time_since_epoch()).count()),
        static_cast<unsigned>(std::random_device{}() & 0xffff));
    return std::string(b);
  }();
  WEIR_ASSIGN_OR_RETURN(auto iceberg, OpenIcebergTable(config_, store_, schema, run_tag));
  // rules: tasks keep their rows for the rules stage (exec/rules_stage.h), encoded by an engine
  // built from the same config (its column selection).
  std::unique_ptr<rules::Engine> rules_encoder;
  if (config_.rules) {
    if (claim) {
      return Status::Invalid(
          "rules: this dataset runs on workers (weir worker), and rules run under `weir run` "
          "for now (docs/rules.md, status)");
    }
    WEIR_ASSIGN_OR_RETURN(rules_encoder, rules::Engine::Create(*config_.rules, schema));
  }
  // A stream's source tells the rules stage when it is idle (the watermark then follows the
  // clock).
  SourceIdle source_idle;
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
  if (stream && !kafka) {
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
    if (config_.rules) stream_run.idle = &source_idle;
    if (options.start_collector) {
      WEIR_ASSIGN_OR_RETURN(stop_collector, options.start_collector(*stream_log));
    }
    summary.stream = true;
  }
  // rules: the stage consumes what the tasks (a stream's partitions) commit while they run
  // (exec/rules_stage.h).
  std::unique_ptr<RulesStage> rules_stage;
  std::thread rules_thread;
  std::atomic<bool> rules_stop{false};
  Status rules_status;
  if (config_.rules) {
    auto opened = RulesStage::Open(config_, store_, schema, run_tag, stream ? &source_idle : nullptr);
    if (!opened.ok() && opened.status().code() == StatusCode::kAborted && kafka) {
      // Another member of the consumer group on this machine runs the stage; this one only
      // reads its partitions (their rows reach the rules through the spool).
      spdlog::info("{}: {}; this process reads its partitions for it", config_.name,
                   opened.status().message());
    } else {
      WEIR_ASSIGN_OR_RETURN(rules_stage, std::move(opened));
    }
  }
  if (rules_stage) {
    if (stream) rules_stage->set_metrics(options.stream_metrics);
    rules_thread = std::thread([&] {
      while (!rules_stop.load() && !StopRequested()) {
        if (Status st = rules_stage->Step(false); !st.ok()) {
          rules_status = st;
          if (stream) {
            // A stream would read on forever with its rules stopped: stop it (what it read is
            // committed; the run ends with this error).
            spdlog::error("{}: the rules stage failed: {}; stopping the stream", config_.name,
                          st.message());
            RequestStop(kStopOnFailure);
          }
          return;
        }
        // A stream's derived records are waited for: look for new commits every 50 ms (a
        // files run's every 250 ms: each step lists its tasks).
        for (int i = 0; i < (stream ? 1 : 5) && !rules_stop.load(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      }
    });
  }
  struct JoinRules {
    std::thread& t;
    std::atomic<bool>& stop;
    ~JoinRules() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join_rules{rules_thread, rules_stop};
  // One dedup index for the run, whichever executor feeds the output.
  auto dedup = DedupIndex::Create(config_, store_);
  if (kafka) {
    KafkaRunContext kc;
    kc.config = &config_;
    kc.store = &store_;
    kc.progress = &progress_;
    kc.transforms = transforms.get();
    kc.schema = schema;
    kc.iceberg = iceberg.get();
    kc.dedup = dedup.get();
    ParserPtr parser;
    if (source) {
      WEIR_ASSIGN_OR_RETURN(parser, source->NewParser());
      kc.parser = parser.get();
      kc.format = &source->format();
    }
    kc.run_tag = run_tag;
    kc.until_idle_ms = options.until_idle_ms;
    kc.max_records = options.max_records;
    kc.metrics = options.stream_metrics;
    kc.rules = rules_encoder.get();
    kc.idle = &source_idle;
    WEIR_ASSIGN_OR_RETURN(summary.stopped, RunKafkaStream(kc));
    summary.stream = true;
  }
  std::map<int64_t, int> attempts_made;
  // Reruns after write.dedup races (IsDedupRace), per task; guarded by `mu` like attempts_made.
  std::map<int64_t, int> dedup_reruns;
  constexpr int kMaxDedupReruns = 100;
  // Claim mode: the attempt of this process's claim on each task it took (its fencing token);
  // a task requeued after a failed interval is taken again only while that claim stands.
  std::map<int64_t, int> our_claim;
  std::set<int64_t> ran;  // tasks this run executed (claim mode: its share of the dataset)
  Status claim_failed;
  std::unique_ptr<Heartbeat> heartbeat;
  if (!options.external_heartbeat && !kafka) {
    WorkerRow self;
    self.id = lease.owner;
    char host[256] = {0};
    (void)::gethostname(host, sizeof(host) - 1);
    self.host = host;
    self.pid = ::getpid();
    self.datasets = config_.name;
    self.threads = options.workers > 0 ? options.workers : config_.compute.workers;
    self.current = config_.name;
    heartbeat = std::make_unique<Heartbeat>(store_, self, lease.ttl_ms, [this](WorkerRow& w) {
      w.tasks_done = progress_.tasks_done;
      w.records = progress_.records;
      w.bytes = progress_.raw_bytes;
    });
  }
  if (iceberg && claim) iceberg->set_shared_writers(true);
  // The workers commit together: one file per partition and one snapshot per commit.
  CommitGroup group;
  auto worker = [&](int index) {
    const std::string tag = run_tag + "-" + std::to_string(index);
    // Declared first, so it is released after `out` (and any commit of its) is gone.
    std::unique_ptr<StagingLease> staging_lease;
    WorkerOutput out(config_, store_, schema, tag, iceberg.get());
    if (claim) {
      // Other processes write the dataset too: our staging folder is ours while we live.
      auto got = StagingLease::Acquire(config_, tag);
      if (!got.ok()) {
        std::lock_guard<std::mutex> l(mu);
        claim_failed = got.status();
        return;
      }
      staging_lease = std::move(got).value();
      out.set_shared_writers(true);
    }
    out.set_group(&group);
    out.set_dedup(dedup.get());
    out.set_rules(rules_encoder.get());
    if (stream) {
      out.set_commit_seconds(static_cast<double>(config_.stream.commit_interval_ms) / 1000.0);
      out.set_pipelined(config_.stream.pipeline);  // a stream has one worker: no group round
    }
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
          // Taken again only under this process's claim (which another may have superseded).
          if (claim) t->attempts = our_claim[id];
          queue.push_front(*t);
          progress_.tasks_done--;
        }
      }
    };
    auto commit_now = [&](bool request = true) {
      Status st = out.Commit(request);
      if (st.ok()) return;
      if (IsFenced(st) && claim) {
        // Another worker claimed one of these tasks (this one's lease expired: a pause, lost
        // heartbeats). Nothing of the commit is in; the tasks still ours run again from their
        // checkpoints, the one taken from us is left to its new holder.
        spdlog::warn("{}: {}; the commit's other tasks run again from their checkpoints",
                     config_.name, st.message());
        fail_interval(0);
        return;
      }
      if (IsDedupRace(st)) {
        // Another process committed some of these records first. Nothing of this commit is
        // in; its tasks read again from their checkpoints, and write.dedup drops those
        // records this time.
        spdlog::warn("{}: {}; the commit's tasks run again from their checkpoints", config_.name,
                     st.message());
        fail_interval(0);
        return;
      }
      // A failed commit fails every task in it; they resume from their checkpoints on redrive.
      // (Fenced: only this process's own claims are marked.)
      std::vector<int64_t> ids = out.PendingTasks();
      out.Discard();
      for (int64_t id : ids) {
        int mine = 0;
        {
          std::lock_guard<std::mutex> l(mu);
          mine = our_claim[id];
        }
        (void)store_.SetStatus(id, TaskStatus::kError, "commit failed: " + st.message(), mine);
      }
      progress_.tasks_failed += ids.size();
    };
    for (;;) {
      TaskRow task;
      bool claimed = false;  // `task` is a claim just made by ClaimNextTask
      {
        std::lock_guard<std::mutex> l(mu);
        if (StopRequested() || !claim_failed.ok()) break;
        if (!queue.empty()) {
          task = queue.front();
          queue.pop_front();
        } else if (!claim) {
          break;
        } else {
          auto next = store_.ClaimNextTask(config_.name, lease);
          if (!next.ok()) {
            claim_failed = next.status();
            break;
          }
          if (!*next) break;  // nothing claimable now
          task = std::move(**next);
          claimed = true;
          progress_.tasks_total++;
        }
      }
      bool interrupted = false;
      for (;;) {
        Status st;
        if (claimed) {
          claimed = false;
        } else {
          // Each attempt is a claim of its own (the fencing token moves on), and resumes from
          // the durable checkpoint, not from in-memory progress. In claim mode only while this
          // process's claim stands: a task another worker took since is theirs.
          auto fresh = store_.ClaimTask(task.id, &lease, claim ? task.attempts : 0);
          st = fresh.status();
          if (fresh.ok()) task = std::move(fresh).value();
        }
        if (IsFenced(st)) {
          spdlog::warn("{}: task {} ({}) is another worker's now; leaving it", config_.name,
                       task.id, task.entry);
          break;
        }
        if (st.ok()) {
          {
            std::lock_guard<std::mutex> l(mu);
            our_claim[task.id] = task.attempts;
            ran.insert(task.id);
          }
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
        bool rerun = false;
        if (IsDedupRace(st)) {
          std::lock_guard<std::mutex> l(mu);
          rerun = dedup_reruns[task.id]++ < kMaxDedupReruns;
        }
        if (rerun) {
          // Each refusal means another writer committed those keys, so a rerun drops more
          // records than the last and this ends; the bound is for a bug, not for contention.
          spdlog::warn("{}: {}; its tasks run again from their checkpoints", config_.name,
                       st.message());
          continue;
        }
        if (IsFenced(st)) {
          // A commit during the task was refused: one of its tasks was claimed by another
          // worker. Run this one again if it is still ours (the claim above finds out).
          spdlog::warn("{}: a commit was refused: {}; its tasks still held run again from their "
                       "checkpoints", config_.name, st.message());
          if (claim) continue;
          break;
        }
        int attempt;
        {
          std::lock_guard<std::mutex> l(mu);
          attempt = attempts_made[task.id]++;
        }
        if (st.retryable() && attempt < config_.compute.retries) {
          (void)store_.SetStatus(task.id, TaskStatus::kRunning, "retrying after: " + st.message(),
                                 task.attempts);
          // 1 s, 2 s, 4 s ... (at most 30 s): what fails retryably past the I/O layer's own
          // retries is an outage (object storage down for seconds), not a blip; the task
          // resumes from its checkpoint, so waiting costs nothing but time.
          const int64_t wait_ms = std::min<int64_t>(int64_t{1000} << std::min(attempt, 5), 30000);
          spdlog::warn("{}: task {} ({}) failed ({}); retrying from its checkpoint in {} s",
                       config_.name, task.id, task.entry, st.message(), wait_ms / 1000);
          for (int64_t waited = 0; waited < wait_ms && !StopRequested(); waited += 50) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
          continue;
        }
        std::string reason = st.message();
        if (st.retryable()) reason += " (gave up after " + std::to_string(attempt + 1) + " attempts)";
        spdlog::warn("{}: task {} ({}) is ERROR: {}", config_.name, task.id, task.entry, reason);
        (void)store_.SetStatus(task.id, TaskStatus::kError, reason, task.attempts);
        progress_.tasks_failed++;
        break;
      }
      if (interrupted) {
        commit_now();
        auto now = store_.Task(task.id);
        if (now.ok() && now->status == TaskStatus::kRunning) {
          (void)store_.SetStatus(task.id, TaskStatus::kInterrupted,
                                 std::string("interrupted by ") +
                                     (StopSignal() == SIGINT    ? "SIGINT"
                                      : StopSignal() == SIGTERM ? "SIGTERM"
                                                                : "weir after a failure") +
                                     "; `weir run` resumes it from its checkpoint",
                                 task.attempts);
        }
        break;
      }
      progress_.tasks_done++;
      bool last;
      {
        std::lock_guard<std::mutex> l(mu);
        // Claim mode cannot know: the next claim says. Committing with the others then is right
        // either way (ShouldCommit below still commits by size and time).
        last = queue.empty() && !claim;
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
  if (!claim) n = std::max(1, std::min<int>(n, static_cast<int>(std::max<size_t>(1, queue.size()))));
  for (int round = 0; !kafka; ++round) {
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) threads.emplace_back(worker, round * n + i);
    for (auto& t : threads) t.join();
    WEIR_RETURN_IF_ERROR(claim_failed);
    if (!wait_for_others || StopRequested()) break;
    // Nothing claimable: other processes hold the rest. Wait until they finish it, or until a
    // lease expires (a holder died) and its task can be claimed here.
    bool more = false;
    while (!StopRequested()) {
      WEIR_ASSIGN_OR_RETURN(TaskCensus census, store_.Census(config_.name));
      if (census.claimable > 0) {
        more = true;
        break;
      }
      if (census.leased == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    if (!more) break;
  }
  if (heartbeat) heartbeat.reset();
  if (stream && !kafka) {
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
  bool rules_ran = false;
  if (rules_stage) {
    rules_stop = true;
    if (rules_thread.joinable()) rules_thread.join();
    WEIR_RETURN_IF_ERROR(rules_status);
    // Every task of this run has committed: the rest of the spool, then the end of the input
    // (a stream's at --until-idle only: --max-records stops it anywhere).
    if (!StopRequested()) {
      const std::string idle_stop = "(--until-idle)";
      const bool finite = !stream || (summary.stopped.size() >= idle_stop.size() &&
                                      summary.stopped.compare(summary.stopped.size() - idle_stop.size(),
                                                              idle_stop.size(), idle_stop) == 0);
      WEIR_RETURN_IF_ERROR(finite ? rules_stage->Step(/*end_of_input=*/true) : rules_stage->Stop());
    }
    const RulesSummary& r = rules_stage->summary();
    summary.rules = true;
    summary.rules_events = r.events;
    summary.rules_late = r.late;
    summary.rules_derived = r.derived;
    summary.rules_keys = r.keys;
    summary.rules_state_bytes = r.state_bytes;
    summary.rules_waiting = r.waiting;
    // Done: its background compaction of the derived table (if one runs) ends before the run's
    // own below starts, and the state folder is free for the next stage.
    rules_stage.reset();
    rules_ran = true;
  }
  // write.compaction.auto (exec/lake_maintenance.h): its own snapshot after the run's commits; a
  // failure leaves the committed data as it is and is reported, not fatal.
  // The derived table too (rules.output.compaction.auto), with the stage's records.
  // Only by the process that ran the stage (a Kafka group's other members do not write it).
  const bool derived_auto = rules_ran && config_.rules->output.connector != "kafka" &&
                            config_.rules->output.compaction_auto;
  bool compact = (config_.write.compaction_auto || derived_auto) && StopSignal() == 0;
  if (compact && claim) {
    // Workers share the dataset: the one that finds it finished compacts, not every one.
    auto census = store_.Census(config_.name);
    compact = census.ok() && census->claimable == 0 && census->leased == 0;
  }
  if (compact && config_.write.compaction_auto) {
    auto compacted = AutoCompact(config_, store_, run_tag);
    if (!compacted.ok()) {
      summary.warnings.push_back("write.compaction.auto: compaction failed (the run's data is "
                                 "committed; `weir lake compact` retries): " +
                                 compacted.status().message());
    }
  }
  if (compact && derived_auto) {
    auto compacted = AutoCompact(DerivedTableConfig(config_), store_, run_tag + "-rules");
    if (!compacted.ok()) {
      summary.warnings.push_back("rules.output.compaction.auto: compaction of the derived table "
                                 "failed (its records are committed; `weir lake compact FILE "
                                 "--table " + config_.rules->output.table + "` retries): " +
                                 compacted.status().message());
    }
  }

  WEIR_ASSIGN_OR_RETURN(summary.tasks, store_.Tasks(config_.name));
  if (kafka) summary.tasks_run = summary.tasks.size();
  if (claim) {
    summary.tasks_run = 0;
    for (const auto& t : summary.tasks) summary.tasks_run += ran.count(t.id) && t.lease_owner == lease.owner;
  }
  summary.claimed = claim;
  summary.all_completed = true;
  for (const auto& t : summary.tasks) {
    summary.all_completed &= t.status == TaskStatus::kCompleted || t.status == TaskStatus::kRetired;
    // Claim mode: the tasks this process ran and still held last (a task another worker
    // reclaimed from it counts as theirs: what this one read of it was never committed).
    if (claim && (!ran.count(t.id) || t.lease_owner != lease.owner)) continue;
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
