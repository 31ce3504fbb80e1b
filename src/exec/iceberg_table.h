// A dataset's lake table as an Apache Iceberg v2 table (write.table_format: iceberg, the default
// for Parquet): the commit path that turns each weir commit into one Iceberg snapshot, and the
// recovery that keeps the table's files consistent with the store after a crash.
//
// Layout (docs/lake.md): <location>/<table>/data/<hive partition path>/<file>.parquet holds the
// data files (every column of the table, partition columns included, with Iceberg field ids);
// <location>/<table>/metadata/ holds v<N>.metadata.json, manifest lists (snap-*.avro), manifests
// (*-m<k>.avro) and version-hint.text (N of the current metadata, for readers that open a table
// by path).
//
// Commit protocol (one weir commit = one snapshot):
//   1. data files are staged as for Hive tables (exec/worker_output.h);
//   2. under the table's commit lock, the snapshot is planned on the current metadata and its
//      manifests, manifest list and v<N>.metadata.json are written (never overwriting a file:
//      a name already taken, by a crashed commit or a concurrent writer, moves on to N+1);
//   3. ONE store transaction records the files, the task checkpoints AND moves the table's
//      writers' pointer in `iceberg_tables` from the metadata it was planned on to the new one
//      (compare-and-set; a lost race re-plans on the winner's metadata);
//   4. the staged data files are renamed into data/ and marked published, and the readers'
//      pointer (the JDBC column metadata_location, which catalog clients follow) moves to the
//      writers' once no file of the dataset is pending (IcebergTableRow in exec/store.h);
//   5. version-hint.text is rewritten (atomically) to N.
// A crash before 3 leaves orphan files no snapshot references (invisible; `weir lake expire`
// removes them); a crash after 3 is finished by recovery (publication, the readers' pointer,
// then the hint). No reader, by catalog or by path, is ever given a snapshot whose files are
// not all in place.
//
// Thread-safety: IcebergTable is shared by the worker threads of one run; Commit() serialises
// them with an internal mutex held from planning to the hint, so hints only ever move forward
// and a hint never names a snapshot whose data files are still staged.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/column.h"
#include "core/config.h"
#include "exec/store.h"
#include "lake/iceberg.h"
#include "lake/iceberg_commit.h"
#include "weir/status.h"

namespace weir {

// The catalog namespace of every weir table (Iceberg identifier default.<write.table>).
inline constexpr char kIcebergNamespace[] = "default";

inline bool UsesIceberg(const DatasetConfig& c) { return c.write.table_format == "iceberg"; }
std::string IcebergMetadataDir(const DatasetConfig& c);  // <table>/metadata
// Where data files go relative to the table folder: "data/" for Iceberg tables, "" for Hive.
std::string TableDataPrefix(const DatasetConfig& c);

// Reads metadata and manifest files from local disk (the loader PlanSnapshot and LiveEntries take).
iceberg::MetadataFileLoader LocalMetadataLoader();

// The store's catalog row for this dataset's table (namespace default, name write.table), or
// nullopt when there is none. The catalog keys tables by name alone, so two datasets of one store
// with one write.table would share one row: a row whose metadata lies outside this dataset's
// table folder, in a folder whose claim (exec/lake_claim.h) names this same store and ANOTHER
// dataset, is that other dataset's table, and is refused (InvalidArgument, naming both datasets
// and what to change) so that neither a run nor --restart ever touches it. A row outside the
// table folder for any other reason (a copied or moved project folder, another store's folder, a
// folder that is gone) is returned as it is: LoadIcebergTable() reports it, --restart drops it.
Result<std::optional<IcebergTableRow>> DatasetIcebergRow(const DatasetConfig& config, Store& store);

// The table's catalog row and its current metadata; nullopt when the table has no commit yet.
// Refuses another dataset's row (DatasetIcebergRow) and a row outside this dataset's table folder.
struct IcebergTableState {
  IcebergTableRow row;
  iceberg::TableMetadata metadata;
};
Result<std::optional<IcebergTableState>> LoadIcebergTable(const DatasetConfig& config, Store& store);

// The Iceberg schema and partition spec the config asks for, given the committed metadata (field
// ids of known columns are kept; new columns get new ids). Invalid, with what to do, for a change
// Iceberg cannot take in place (a column's type, the partitioning).
struct IcebergLayout {
  iceberg::Schema schema;
  iceberg::PartitionSpec spec;
  bool schema_changed = false;  // a new schema must be added to the metadata
};
Result<IcebergLayout> IcebergLayoutFor(const DatasetConfig& config,
                                       const std::vector<ColumnSchema>& columns,
                                       const iceberg::TableMetadata* committed);

// A cross-process lock around one commit's planning, compare-and-set and publication: flock(2)
// on <store folder>/<dataset>.commit.lock. Commits stay optimistic (the compare-and-set decides;
// a process that does not take the gate is still correct); the gate only keeps a writer that
// keeps losing races from starving: `weir lake compact`/`expire` beside a run that commits every
// few hundred milliseconds take it after a few lost races, and the run's commits, which always
// pass through it, then wait for the one commit it guards. Not the dataset lock (DatasetLock),
// which a run holds for its whole run. Owns the descriptor; released by the destructor.
class CommitGate {
 public:
  static Result<std::unique_ptr<CommitGate>> Acquire(const DatasetConfig& config);
  ~CommitGate();
  CommitGate(const CommitGate&) = delete;
  CommitGate& operator=(const CommitGate&) = delete;

 private:
  explicit CommitGate(int fd) : fd_(fd) {}
  int fd_;
};

class IcebergTable {
 public:
  // Loads the table (or prepares a new one) for the columns the run writes. Refuses a table whose
  // catalog row points outside this dataset's table folder (a copied project folder).
  static Result<std::unique_ptr<IcebergTable>> Open(const DatasetConfig& config, Store& store,
                                                    const std::vector<ColumnSchema>& columns,
                                                    std::string run_tag);

  // Several processes write the table (a Kafka stream's group members): each commit first
  // finishes what dead writers left (RecoverDeadWriters, exec/worker_output.h). Under the
  // CommitGate that is safe: a live writer holds the gate from planning to publication, so a
  // committed-but-unpublished file seen there belongs to a writer that died.
  void set_shared_writers(bool shared) { shared_writers_ = shared; }

  // Parquet field ids of `columns` (the data file columns, in order).
  std::vector<int32_t> FieldIds(const std::vector<ColumnSchema>& columns) const;
  const iceberg::Schema& schema() const { return layout_.schema; }
  const iceberg::PartitionSpec& spec() const { return layout_.spec; }

  // Commits `req` (files and checkpoints) together with a snapshot adding `added` (their
  // file_path values are the files' final paths). `publish` runs after the store transaction,
  // still under the commit lock: it renames the staged files and marks them published; then
  // the version hint moves. Retries planning on a compare-and-set conflict. Holds the
  // CommitGate from planning to the hint (so maintenance commits that take it are not starved).
  Status Commit(CommitRequest& req, const std::vector<iceberg::DataFile>& added,
                std::vector<int64_t>* file_ids, const std::function<Status()>& publish);

 private:
  IcebergTable(const DatasetConfig& config, Store& store) : config_(config), store_(store) {}
  Status Reload();

  const DatasetConfig& config_;
  Store& store_;
  bool shared_writers_ = false;
  std::string run_tag_;
  std::vector<ColumnSchema> columns_;
  IcebergLayout layout_;
  std::mutex mu_;
  std::optional<IcebergTableState> current_;  // nullopt: no commit yet
};

// Recovery, under the dataset lock, after publications were finished: rewrites a stale or
// missing version-hint.text, and removes the metadata folder of a table the catalog no longer
// has (dropped by --restart, or never committed).
Status RecoverIcebergTable(const DatasetConfig& config, Store& store);

// Writes `bytes` at `path` only if no file has that name (link(2) of a temporary file fails
// with EEXIST instead of replacing): false when the name was taken. How metadata files are
// created, so a crashed or concurrent commit's file is never overwritten.
Result<bool> WriteNewFile(const std::string& path, const std::string& bytes);

// Writes a new metadata JSON of version `version` in `metadata_dir` and returns its location:
// on local disk under the first free name v<N>.metadata.json from `version` on (WriteNewFile, so
// a concurrent writer's file is never replaced; readers that open the table by path find it
// through version-hint.text); on S3, where no file can be created exclusively, under the unique
// name <NNNNN>-<uuid>.metadata.json (the catalog, i.e. the store's pointer, is how readers find it).
Result<std::string> WriteMetadataFile(const std::string& metadata_dir, int64_t version,
                                      const std::string& bytes);

// What version-hint.text holds for `metadata_location`: N for v<N>.metadata.json (Iceberg's
// Hadoop tables), the file's stem "<NNNNN>-<uuid>" otherwise (readers such as DuckDB's try
// "<hint>.metadata.json" too).
Result<std::string> VersionHintText(const std::string& metadata_location);
// Writes <table>/metadata/version-hint.text for `metadata_location`, atomically.
Status WriteVersionHint(const DatasetConfig& config, const std::string& metadata_location);

}  // namespace weir
