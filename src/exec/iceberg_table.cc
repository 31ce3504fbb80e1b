#include "exec/iceberg_table.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "core/interrupt.h"
#include "exec/lake_claim.h"
#include "exec/runner.h"
#include "exec/worker_output.h"
#include "io/fs.h"

namespace weir {

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const ColumnConfig* FindColumn(const DatasetConfig& c, const std::string& name) {
  for (const auto& col : c.write.columns) {
    if (col.name == name) return &col;
  }
  return nullptr;
}

// The partition fields the config asks for, with source ids from `schema` and no field ids.
// date_of columns map to the `day` transform of their source (hidden partitioning; the folder
// text YYYY-MM-DD is exactly the day). hour_of columns (the UTC hour 0-23) map to `hour` of
// their source only when the same source's day is a partition field too: only then does a
// folder hold a single epoch hour. Otherwise they are identity partitions on the column itself.
Result<std::vector<iceberg::PartitionField>> WantedPartitionFields(const DatasetConfig& config,
                                                                   const iceberg::Schema& schema) {
  std::vector<iceberg::PartitionField> out;
  for (const auto& name : config.write.partition_by) {
    const ColumnConfig* col = FindColumn(config, name);
    iceberg::PartitionField f;
    f.name = name;
    const iceberg::NestedField* source = schema.FindByName(name);
    if (col && col->source == ColumnSource::kDateOf && schema.FindByName(col->from)) {
      source = schema.FindByName(col->from);
      f.transform = iceberg::Transform::kDay;
    } else if (col && col->source == ColumnSource::kHourOf && schema.FindByName(col->from)) {
      bool day_too = false;
      for (const auto& other : config.write.partition_by) {
        const ColumnConfig* o = FindColumn(config, other);
        day_too |= o && o->source == ColumnSource::kDateOf && o->from == col->from;
      }
      if (day_too) {
        source = schema.FindByName(col->from);
        f.transform = iceberg::Transform::kHour;
      }
    }
    if (source == nullptr) {
      return Status::Invalid("write.partition_by: column '" + name +
                             "' is not a column of the table");
    }
    f.source_id = source->id;
    out.push_back(std::move(f));
  }
  return out;
}

bool SameFields(const std::vector<iceberg::PartitionField>& a,
                const std::vector<iceberg::PartitionField>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].source_id != b[i].source_id || a[i].transform != b[i].transform ||
        a[i].name != b[i].name) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<bool> WriteNewFile(const std::string& path, const std::string& bytes) {
  if (fs::IsRemote(path)) {
    // No exclusive create on S3 (callers give remote files unique names): this only keeps a
    // name that is somehow taken from being overwritten.
    if (fs::Exists(path)) return false;
    WEIR_RETURN_IF_ERROR(fs::WriteFile(path, bytes));
    return true;
  }
  const std::string tmp = path + ".tmp-" + iceberg::NewUuid();
  WEIR_RETURN_IF_ERROR(fs::WriteFile(tmp, bytes));
  const int rc = ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  (void)::unlink(tmp.c_str());
  if (rc == 0) return true;
  if (err == EEXIST) return false;
  return fs::ErrnoStatus("creating", path, err);
}

Result<std::string> WriteMetadataFile(const std::string& metadata_dir, int64_t version,
                                      const std::string& bytes) {
  if (fs::IsRemote(metadata_dir)) {
    char prefix[32];
    std::snprintf(prefix, sizeof(prefix), "%05lld-", static_cast<long long>(version));
    for (int attempt = 0; attempt < 3; ++attempt) {
      const std::string location =
          metadata_dir + "/" + prefix + iceberg::NewUuid() + ".metadata.json";
      WEIR_ASSIGN_OR_RETURN(bool created, WriteNewFile(location, bytes));
      if (created) return location;
    }
    return Status::Internal("no free metadata file name in " + metadata_dir);
  }
  for (int64_t v = version; v <= version + 1000; ++v) {
    const std::string location = metadata_dir + "/v" + std::to_string(v) + ".metadata.json";
    WEIR_ASSIGN_OR_RETURN(bool created, WriteNewFile(location, bytes));
    if (created) {
      WEIR_RETURN_IF_ERROR(fs::SyncFilesystem(location));
      return location;
    }
  }
  return Status::Internal("no free metadata file name in " + metadata_dir);
}

std::string IcebergMetadataDir(const DatasetConfig& c) { return TableDir(c) + "/metadata"; }

std::string TableDataPrefix(const DatasetConfig& c) { return UsesIceberg(c) ? "data/" : ""; }

iceberg::MetadataFileLoader LocalMetadataLoader() {
  return [](const std::string& location) -> Result<std::string> {
    std::string path = location;
    if (path.rfind("file://", 0) == 0) path = path.substr(7);
    return fs::ReadFile(path);
  };
}

Result<std::optional<IcebergTableRow>> DatasetIcebergRow(const DatasetConfig& config,
                                                         Store& store) {
  WEIR_ASSIGN_OR_RETURN(auto row, store.IcebergTable(kIcebergNamespace, config.write.table));
  if (!row) return row;
  std::string location = row->metadata_location;
  if (location.rfind("file://", 0) == 0) location = location.substr(7);
  if (location.rfind(IcebergMetadataDir(config) + "/", 0) == 0) return row;
  // <table folder>/metadata/v<N>.metadata.json: the claim of the table folder says whose it is.
  const std::filesystem::path metadata_dir = std::filesystem::path(location).parent_path();
  if (metadata_dir.filename() != "metadata") return row;
  const std::string table_dir = metadata_dir.parent_path().string();
  const std::optional<FolderOwner> owner = ReadFolderOwner(table_dir);
  // A claim by another store, or by this very dataset (a copy's store still naming the
  // original's folder), is not another dataset of this store: LoadIcebergTable's case.
  if (!owner || owner->store_id != store.store_id() || owner->dataset == config.name) return row;
  const std::string table = std::string(kIcebergNamespace) + "." + config.write.table;
  return Status::Invalid(
      "dataset '" + config.name + "' cannot use write.table '" + config.write.table +
      "': in its store " + store.path() + " the Iceberg catalog entry " + table +
      " is the table of dataset '" + owner->dataset + "' (" +
      (owner->dataset_file.empty() ? "" : "file " + owner->dataset_file + ", ") + "table folder " +
      table_dir + "), and the catalog names tables by write.table alone, so two datasets of one "
      "store cannot both call their table '" + config.write.table + "'. Give dataset '" +
      config.name + "' (table folder " + TableDir(config) + ") another write.table, or a store: "
      "of its own. Nothing was changed; `weir run --restart` is refused too, since it would drop "
      "the table of dataset '" + owner->dataset + "' from the catalog");
}

Result<std::optional<IcebergTableState>> LoadIcebergTable(const DatasetConfig& config,
                                                          Store& store) {
  WEIR_ASSIGN_OR_RETURN(auto row, DatasetIcebergRow(config, store));
  if (!row) return std::optional<IcebergTableState>();
  const std::string dir = IcebergMetadataDir(config) + "/";
  if (row->metadata_location.rfind(dir, 0) != 0) {
    return Status::Invalid(
        "the store's Iceberg catalog says table " + std::string(kIcebergNamespace) + "." +
        config.write.table + " is at " + row->metadata_location + ", outside this dataset's table "
        "folder " + TableDir(config) +
        ": the project folder (or the store) was copied or moved, and the table's metadata still "
        "names the original's files. `weir run --restart` starts the table over in this folder");
  }
  auto text = fs::ReadFile(row->metadata_location);
  if (!text.ok()) {
    return Status::Corruption("the current metadata of Iceberg table " + config.write.table +
                              " (" + row->metadata_location +
                              ", named by the store's catalog) cannot be read: " +
                              text.status().message() +
                              ". Restore the file, or `weir run --restart` to load the dataset again");
  }
  WEIR_ASSIGN_OR_RETURN(auto metadata, iceberg::ParseTableMetadata(*text, row->metadata_location));
  return std::optional<IcebergTableState>(IcebergTableState{std::move(*row), std::move(metadata)});
}

Result<IcebergLayout> IcebergLayoutFor(const DatasetConfig& config,
                                       const std::vector<ColumnSchema>& columns,
                                       const iceberg::TableMetadata* committed) {
  IcebergLayout out;
  if (committed == nullptr) {
    out.schema = iceberg::SchemaFromColumns(columns, 0);
    WEIR_ASSIGN_OR_RETURN(out.spec.fields, WantedPartitionFields(config, out.schema));
    out.schema_changed = true;
    return out;
  }
  const iceberg::Schema* current = committed->CurrentSchema();
  if (current == nullptr) return Status::Corruption("Iceberg metadata without a current schema");
  iceberg::Schema next = *current;
  int next_id = std::max(committed->last_column_id, current->HighestFieldId());
  for (const auto& c : columns) {
    const iceberg::Type want = iceberg::TypeForColumn(c.type);
    if (const iceberg::NestedField* f = current->FindByName(c.name)) {
      if (f->type != want) {
        return Status::Invalid(
            "write.columns." + c.name + ": the Iceberg table " + config.write.table +
            " holds this column as " + iceberg::TypeName(f->type) + ", and the config now makes it " +
            iceberg::TypeName(want) + " (" + ColumnTypeName(c.type) +
            "); Iceberg cannot change a column's type in place. Give the new values a new column "
            "name, or `weir run --restart` to write the table again with the new type");
      }
      continue;
    }
    iceberg::NestedField f;
    f.id = ++next_id;
    f.name = c.name;
    f.type = want;
    next.fields.push_back(std::move(f));
    out.schema_changed = true;
  }
  if (out.schema_changed) {
    int max_schema = 0;
    for (const auto& s : committed->schemas) max_schema = std::max(max_schema, s.schema_id);
    next.schema_id = max_schema + 1;
  }
  out.schema = std::move(next);
  WEIR_ASSIGN_OR_RETURN(auto wanted, WantedPartitionFields(config, out.schema));
  const iceberg::PartitionSpec* spec = committed->DefaultSpec();
  if (spec == nullptr || !SameFields(spec->fields, wanted)) {
    return Status::Invalid(
        "write.partition_by: the Iceberg table " + config.write.table +
        " is partitioned differently from what the config now asks; weir does not change a "
        "table's partitioning in place. Write to a new table (write.table), or `weir run "
        "--restart` to write this one again");
  }
  out.spec = *spec;
  return out;
}

Result<std::unique_ptr<IcebergTable>> IcebergTable::Open(const DatasetConfig& config, Store& store,
                                                         const std::vector<ColumnSchema>& columns,
                                                         std::string run_tag) {
  std::unique_ptr<IcebergTable> t(new IcebergTable(config, store));
  t->run_tag_ = std::move(run_tag);
  t->columns_ = columns;
  WEIR_RETURN_IF_ERROR(t->Reload());
  return t;
}

Status IcebergTable::Reload() {
  WEIR_ASSIGN_OR_RETURN(current_, LoadIcebergTable(config_, store_));
  WEIR_ASSIGN_OR_RETURN(layout_,
                        IcebergLayoutFor(config_, columns_, current_ ? &current_->metadata : nullptr));
  return Status::OK();
}

std::vector<int32_t> IcebergTable::FieldIds(const std::vector<ColumnSchema>& columns) const {
  std::vector<int32_t> ids;
  for (const auto& c : columns) {
    const iceberg::NestedField* f = layout_.schema.FindByName(c.name);
    ids.push_back(f ? f->id : 0);
  }
  return ids;
}

Result<std::unique_ptr<CommitGate>> CommitGate::Acquire(const DatasetConfig& config) {
  const std::string dir = LocalStateDir(config);
  WEIR_RETURN_IF_ERROR(fs::CreateDirs(dir));
  const std::string path = dir + "/" + config.name + ".commit.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return fs::ErrnoStatus("opening", path, errno);
  // Polled rather than a blocking flock, so that a stop is seen on any thread (a stream's
  // commit thread never gets the signal). A stop does not give up at once: the commit that
  // follows SIGTERM, or one in flight when it came, normally waits a few milliseconds behind
  // another writer, and must still be made. But a writer stuck behind one that does not
  // finish (paused, or on a hung disk) must still stop: after kStopGrace the caller's commit
  // fails, and what it held is read again next time.
  constexpr auto kStopGrace = std::chrono::seconds(5);
  std::optional<std::chrono::steady_clock::time_point> stop_seen;
  for (int wait_ms = 1; ::flock(fd, LOCK_EX | LOCK_NB) != 0;) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      const int err = errno;
      ::close(fd);
      return fs::ErrnoStatus("locking", path, err);
    }
    if (StopRequested()) {
      const auto now = std::chrono::steady_clock::now();
      if (!stop_seen) stop_seen = now;
      if (now - *stop_seen >= kStopGrace) {
        ::close(fd);
        return Status::Aborted("stopped after waiting 5 s for the commit lock " + path +
                               " (another writer holds it and does not finish)");
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    wait_ms = std::min(wait_ms * 2, 20);
  }
  return std::unique_ptr<CommitGate>(new CommitGate(fd));
}

CommitGate::~CommitGate() { ::close(fd_); }

Status IcebergTable::Commit(CommitRequest& req, const std::vector<iceberg::DataFile>& added,
                            std::vector<int64_t>* file_ids, const std::function<Status()>& publish) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(auto gate, CommitGate::Acquire(config_));
  if (shared_writers_) {
    // Before planning: the snapshot about to be made includes a dead writer's, whose files
    // must be in place before this commit's hint names it.
    WEIR_RETURN_IF_ERROR(RecoverDeadWriters(config_, store_));
  }
  const auto loader = LocalMetadataLoader();
  std::string task_list;
  for (const auto& u : req.tasks) task_list += (task_list.empty() ? "" : ",") + std::to_string(u.task_id);
  for (int attempt = 0;; ++attempt) {
    const int64_t now = NowMs();
    iceberg::TableMetadata base;
    std::string base_location;
    if (!current_) {
      std::map<std::string, std::string> props = {
          {"write.format.default", "parquet"},
          {"write.parquet.compression-codec", config_.write.compression == "none" ? "uncompressed" : "zstd"},
          {"weir.dataset", config_.name},
      };
      WEIR_ASSIGN_OR_RETURN(base, iceberg::NewTableMetadata(TableDir(config_), iceberg::NewUuid(),
                                                            layout_.schema, layout_.spec,
                                                            iceberg::SortOrder{}, props, now));
      layout_.spec = *base.DefaultSpec();  // with the field ids NewTableMetadata assigned
    } else {
      base = current_->metadata;
      base_location = current_->row.metadata_location;
      if (!(*base.CurrentSchema() == layout_.schema)) {
        base.schemas.push_back(layout_.schema);
        base.current_schema_id = layout_.schema.schema_id;
        base.last_column_id = std::max(base.last_column_id, layout_.schema.HighestFieldId());
      }
    }
    iceberg::SnapshotUpdate u;
    u.operation = "append";
    u.added = added;
    u.timestamp_ms = std::max(now, base.last_updated_ms);
    u.extra_summary = {{"weir.dataset", config_.name},
                       {"weir.run", run_tag_},
                       {"weir.tasks", task_list}};
    auto planned = iceberg::PlanSnapshot(base, base_location, u, loader);
    if (!planned.ok() && current_ && attempt < 20) {
      // `weir lake expire` (another process) may have removed the files of the snapshot this
      // cached metadata names, once a compaction had moved the table on: plan on the new one.
      auto row = store_.IcebergTable(kIcebergNamespace, config_.write.table);
      if (row.ok() && *row && (*row)->metadata_location != base_location) {
        WEIR_RETURN_IF_ERROR(Reload());
        continue;
      }
    }
    WEIR_ASSIGN_OR_RETURN(auto plan, std::move(planned));
    WEIR_RETURN_IF_ERROR(fs::CreateDirs(IcebergMetadataDir(config_)));
    std::string location = plan.metadata_location;
    for (auto& f : plan.files) {
      if (f.location == plan.metadata_location) continue;
      WEIR_RETURN_IF_ERROR(fs::WriteFile(f.location, f.bytes));  // uuid names: never taken
    }
    WEIR_ASSIGN_OR_RETURN(location, WriteMetadataFile(IcebergMetadataDir(config_), plan.version,
                                                      plan.files.back().bytes));
    req.iceberg = IcebergPointerMove{kIcebergNamespace, config_.write.table, base_location, location};
    if (file_ids) file_ids->clear();
    Status st = store_.Commit(req, file_ids);
    if (st.code() == StatusCode::kAborted && st.retryable() && attempt < 20) {
      // Another writer moved the pointer first: plan again on its metadata. What this attempt
      // wrote is an orphan no snapshot references.
      WEIR_RETURN_IF_ERROR(Reload());
      continue;
    }
    WEIR_RETURN_IF_ERROR(st);
    IcebergTableState next;
    next.row.table_namespace = kIcebergNamespace;
    next.row.table_name = config_.write.table;
    next.row.metadata_location = location;
    next.row.previous_metadata_location = base_location;
    next.metadata = std::move(plan.metadata);
    current_ = std::move(next);
    layout_.schema_changed = false;
    WEIR_RETURN_IF_ERROR(publish());
    // The hint follows the catalog readers' pointer (this commit's, unless another's files are
    // still pending), so it never names a version whose files are not in place nor moves back
    // past a newer one a maintenance commit published meanwhile.
    WEIR_ASSIGN_OR_RETURN(auto readers, store_.IcebergTable(kIcebergNamespace, config_.write.table));
    return WriteVersionHint(config_, readers && !readers->published_location.empty()
                                         ? readers->published_location
                                         : location);
  }
}

Result<std::string> VersionHintText(const std::string& metadata_location) {
  WEIR_ASSIGN_OR_RETURN(int64_t version, iceberg::MetadataVersion(metadata_location));
  std::string name = metadata_location.substr(metadata_location.rfind('/') + 1);
  if (name[0] == 'v') return std::to_string(version);
  return name.substr(0, name.size() - std::string_view(".metadata.json").size());
}

Status WriteVersionHint(const DatasetConfig& config, const std::string& metadata_location) {
  WEIR_ASSIGN_OR_RETURN(std::string text, VersionHintText(metadata_location));
  const std::string hint = IcebergMetadataDir(config) + "/version-hint.text";
  if (fs::IsRemote(hint)) return fs::WriteFile(hint, text);  // a PUT replaces atomically
  const std::string tmp = hint + ".tmp";
  WEIR_RETURN_IF_ERROR(fs::WriteFile(tmp, text));
  return fs::Rename(tmp, hint);
}

Status RecoverIcebergTable(const DatasetConfig& config, Store& store) {
  if (!UsesIceberg(config)) return Status::OK();
  const std::string dir = IcebergMetadataDir(config);
  WEIR_ASSIGN_OR_RETURN(auto row, store.IcebergTable(kIcebergNamespace, config.write.table));
  if (!row) {
    // A table dropped by --restart, or a first commit that never happened: nothing in it is
    // part of any table, and the next commit starts again at v1.
    if (fs::Exists(dir)) {
      WEIR_RETURN_IF_ERROR(CheckDatasetOutputPath(config, dir));
      WEIR_RETURN_IF_ERROR(fs::RemoveTree(dir));
    }
    return Status::OK();
  }
  WEIR_ASSIGN_OR_RETURN(auto state, LoadIcebergTable(config, store));
  (void)state;
  // The caller published what was pending: readers may follow the writers' pointer now.
  WEIR_RETURN_IF_ERROR(store.AdvanceIcebergPointer(config.name, kIcebergNamespace, config.write.table));
  WEIR_ASSIGN_OR_RETURN(row, store.IcebergTable(kIcebergNamespace, config.write.table));
  if (!row || row->published_location.empty()) return Status::OK();
  WEIR_ASSIGN_OR_RETURN(std::string text, VersionHintText(row->published_location));
  auto hint = fs::ReadFile(dir + "/version-hint.text");
  if (!hint.ok() || *hint != text) {
    WEIR_RETURN_IF_ERROR(WriteVersionHint(config, row->published_location));
  }
  return Status::OK();
}

}  // namespace weir
