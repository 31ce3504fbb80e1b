// Store, continued (exec/store.h): the write.dedup index lookups, the committed table schemas
// and the Iceberg catalog rows. Transactions, migrations and task commits are in store.cc.
#include "exec/store.h"

#include <algorithm>
#include <climits>
#include <map>
#include <unordered_map>

#include "store/sql_db.h"

namespace weir {

Status Store::DedupLookup(const std::string& dataset, const std::vector<DedupKey>& keys,
                          std::vector<int64_t>* out) {
  out->assign(keys.size(), INT64_MIN);
  if (keys.empty()) return Status::OK();
  // Sorted probes walk the primary-key b-tree in order, so neighbouring probes share pages.
  std::vector<uint32_t> order(keys.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return static_cast<int64_t>(keys[a].hi) < static_cast<int64_t>(keys[b].hi);
  });
  std::lock_guard<std::mutex> lock(mu_);
  const std::string table = DedupTableName(dataset);
  return Read([&]() -> Status {
    out->assign(keys.size(), INT64_MIN);
    if (!is_postgres()) {
      auto s = db_->Prepare("SELECT time_ms FROM " + table + " WHERE k_hi = ? AND k_lo = ?");
      for (uint32_t i : order) {
        s->Reset();
        s->Bind(1, static_cast<int64_t>(keys[i].hi)).Bind(2, static_cast<int64_t>(keys[i].lo));
        Status err;
        if (s->Step(err)) (*out)[i] = s->Int(0);
        if (!err.ok()) {
          // No table yet: no commit has written a key.
          return db_->last_error() == SqlErrorKind::kUndefinedTable ? Status::OK() : err;
        }
      }
      return Status::OK();
    }
    // PostgreSQL: one round trip per few hundred keys.
    constexpr size_t kChunk = 400;
    std::unordered_map<uint64_t, std::vector<uint32_t>> by_hi;
    for (size_t b = 0; b < order.size(); b += kChunk) {
      const size_t n = std::min(kChunk, order.size() - b);
      std::string sql = "SELECT k_hi, k_lo, time_ms FROM " + table + " WHERE (k_hi, k_lo) IN (";
      for (size_t i = 0; i < n; ++i) sql += i ? ", (?, ?)" : "(?, ?)";
      sql += ")";
      auto s = db_->Prepare(sql);
      for (size_t i = 0; i < n; ++i) {
        const DedupKey& k = keys[order[b + i]];
        s->Bind(static_cast<int>(2 * i + 1), static_cast<int64_t>(k.hi))
            .Bind(static_cast<int>(2 * i + 2), static_cast<int64_t>(k.lo));
      }
      std::map<std::pair<int64_t, int64_t>, int64_t> found;
      Status err;
      while (s->Step(err)) found[{s->Int(0), s->Int(1)}] = s->Int(2);
      if (!err.ok()) {
        return db_->last_error() == SqlErrorKind::kUndefinedTable ? Status::OK() : err;
      }
      for (size_t i = 0; i < n; ++i) {
        const DedupKey& k = keys[order[b + i]];
        auto it = found.find({static_cast<int64_t>(k.hi), static_cast<int64_t>(k.lo)});
        if (it != found.end()) (*out)[order[b + i]] = it->second;
      }
    }
    return Status::OK();
  });
}

Status Store::AddDedupKeysLocked(const std::string& table, const std::vector<DedupKey>& keys,
                                 int64_t within_ms) {
  const uint64_t within = within_ms > 0 ? static_cast<uint64_t>(within_ms) : UINT64_MAX;
  // Each key once (a statement may not touch a row twice), with all its times: rows of one key
  // more than `within` apart are all kept, and each is judged against the stored time.
  struct Run {
    size_t begin, end;
  };
  std::vector<Run> runs;
  for (size_t i = 0; i < keys.size();) {
    size_t j = i + 1;
    while (j < keys.size() && keys[j].hi == keys[i].hi && keys[j].lo == keys[i].lo) ++j;
    runs.push_back({i, j});
    i = j;
  }
  size_t raced = 0;
  // `stored`: the key's time in the index before this commit.
  auto judge = [&](const Run& r, int64_t stored) {
    for (size_t k = r.begin; k < r.end; ++k) {
      if (DedupDistance(stored, keys[k].time_ms) < within) {
        ++raced;
        return;
      }
    }
  };
  if (!is_postgres()) {
    // The common case, a new key, is one statement; a key already there (older than the
    // window, or a race) costs a read and an update more.
    auto ins = db_->Prepare("INSERT INTO " + table +
                            "(k_hi, k_lo, time_ms) VALUES (?, ?, ?) ON CONFLICT(k_hi, k_lo) "
                            "DO NOTHING");
    auto get = db_->Prepare("SELECT time_ms FROM " + table + " WHERE k_hi = ? AND k_lo = ?");
    auto upd = db_->Prepare("UPDATE " + table +
                            " SET time_ms = ? WHERE k_hi = ? AND k_lo = ? AND time_ms < ?");
    for (const Run& r : runs) {
      const DedupKey& k = keys[r.begin];
      const int64_t newest = keys[r.end - 1].time_ms;
      ins->Reset();
      ins->Bind(1, static_cast<int64_t>(k.hi)).Bind(2, static_cast<int64_t>(k.lo)).Bind(3, newest);
      WEIR_RETURN_IF_ERROR(ins->Run());
      if (ins->Changes() == 1) continue;
      get->Reset();
      get->Bind(1, static_cast<int64_t>(k.hi)).Bind(2, static_cast<int64_t>(k.lo));
      Status err;
      if (!get->Step(err)) return err.ok() ? Status::Internal("dedup key vanished") : err;
      const int64_t stored = get->Int(0);
      get->Reset();
      judge(r, stored);
      upd->Reset();
      upd->Bind(1, newest)
          .Bind(2, static_cast<int64_t>(k.hi))
          .Bind(3, static_cast<int64_t>(k.lo))
          .Bind(4, newest);
      WEIR_RETURN_IF_ERROR(upd->Run());
    }
  } else {
    // One round trip per few hundred keys: the insert and the read of the times the keys had
    // before it, in one statement. Its parts share one snapshot, so `old` does not see `up`'s
    // rows; a concurrent commit of the same key makes this SERIALIZABLE transaction fail and
    // run again, and the second run sees that commit's key in `old`.
    constexpr size_t kChunk = 300;
    for (size_t b = 0; b < runs.size(); b += kChunk) {
      const size_t n = std::min(kChunk, runs.size() - b);
      std::string sql = "WITH v(k_hi, k_lo, time_ms) AS (VALUES ";
      for (size_t i = 0; i < n; ++i) sql += i ? ", (?, ?, ?)" : "(?, ?, ?)";
      sql += "), old AS (SELECT d.k_hi, d.k_lo, d.time_ms FROM " + table +
             " AS d JOIN v ON d.k_hi = v.k_hi AND d.k_lo = v.k_lo), up AS (INSERT INTO " + table +
             " AS d (k_hi, k_lo, time_ms) SELECT k_hi, k_lo, time_ms FROM v ON CONFLICT (k_hi, "
             "k_lo) DO UPDATE SET time_ms = GREATEST(d.time_ms, excluded.time_ms)) "
             "SELECT k_hi, k_lo, time_ms FROM old";
      auto s = db_->Prepare(sql);
      std::map<std::pair<int64_t, int64_t>, const Run*> by_key;
      for (size_t i = 0; i < n; ++i) {
        const Run& r = runs[b + i];
        const DedupKey& k = keys[r.begin];
        const int p = static_cast<int>(3 * i);
        s->Bind(p + 1, static_cast<int64_t>(k.hi))
            .Bind(p + 2, static_cast<int64_t>(k.lo))
            .Bind(p + 3, keys[r.end - 1].time_ms);
        by_key[{static_cast<int64_t>(k.hi), static_cast<int64_t>(k.lo)}] = &r;
      }
      Status err;
      while (s->Step(err)) {
        auto it = by_key.find({s->Int(0), s->Int(1)});
        if (it != by_key.end()) judge(*it->second, s->Int(2));
      }
      WEIR_RETURN_IF_ERROR(err);
    }
  }
  if (raced == 0) return Status::OK();
  return Status::Aborted("write.dedup: " + std::to_string(raced) + " of the " +
                         std::to_string(runs.size()) + " keys of this commit were " +
                         kDedupRaceMarker +
                         " checked them (the same records read by two writers at once)");
}

Result<uint64_t> Store::DedupKeyCount(const std::string& dataset) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = 0;
  WEIR_RETURN_IF_ERROR(Read([&]() -> Status {
    auto s = db_->Prepare("SELECT count(*) FROM " + DedupTableName(dataset));
    Status err;
    n = s->Step(err) ? static_cast<uint64_t>(s->Int(0)) : 0;
    if (!err.ok() && db_->last_error() == SqlErrorKind::kUndefinedTable) return Status::OK();
    return err;
  }));
  return n;
}

// --- committed table schemas (exec/table_schema.h) ---
// Kept apart from Migrate(): the table is created on first use, so stores of any age gain it.

Status Store::EnsureSchemaTable() {
  if (schema_table_ready_) return Status::OK();
  WEIR_RETURN_IF_ERROR(
      Ddl(Sql("CREATE TABLE IF NOT EXISTS table_schemas (dataset TEXT PRIMARY KEY, "
              "columns_json TEXT NOT NULL, partition_by_json TEXT NOT NULL, "
              "updated_at TEXT NOT NULL DEFAULT ({now}))")));
  schema_table_ready_ = true;
  return Status::OK();
}

Result<std::optional<Store::RecordedSchema>> Store::TableSchema(const std::string& dataset) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(EnsureSchemaTable());
  std::optional<RecordedSchema> out;
  WEIR_RETURN_IF_ERROR(Read([&]() -> Status {
    out.reset();
    auto s =
        db_->Prepare("SELECT columns_json, partition_by_json FROM table_schemas WHERE dataset = ?");
    s->Bind(1, dataset);
    Status err;
    if (s->Step(err)) out = RecordedSchema{s->Text(0), s->Text(1)};
    return err;
  }));
  return out;
}

Status Store::SetTableSchema(const std::string& dataset, const RecordedSchema& schema) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(EnsureSchemaTable());
  return Transact([&]() -> Status {
    auto s = db_->Prepare(
        Sql("INSERT INTO table_schemas (dataset, columns_json, partition_by_json) VALUES (?, ?, ?) "
            "ON CONFLICT(dataset) DO UPDATE SET columns_json = excluded.columns_json, "
            "partition_by_json = excluded.partition_by_json, updated_at = {now}"));
    return s->Bind(1, dataset).Bind(2, schema.columns_json).Bind(3, schema.partition_by_json).Run();
  });
}

// --- the Iceberg catalog (Iceberg's JDBC catalog tables) ---

Status Store::EnsureIcebergTables() {
  if (iceberg_tables_ready_) return Status::OK();
  WEIR_RETURN_IF_ERROR(Ddl(
      "CREATE TABLE IF NOT EXISTS iceberg_tables (catalog_name VARCHAR(255) NOT NULL, "
      "table_namespace VARCHAR(255) NOT NULL, table_name VARCHAR(255) NOT NULL, "
      "metadata_location VARCHAR(1000), previous_metadata_location VARCHAR(1000), "
      "iceberg_type VARCHAR(5), "
      "PRIMARY KEY (catalog_name, table_namespace, table_name));"
      "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (catalog_name VARCHAR(255) NOT "
      "NULL, "
      "namespace VARCHAR(255) NOT NULL, property_key VARCHAR(255), property_value VARCHAR(1000), "
      "PRIMARY KEY (catalog_name, namespace, property_key))"));
  // weir's own column (JDBC catalogs ignore columns they do not know): the writers' pointer.
  // Stores from before it have one pointer; NULL reads as metadata_location.
  WEIR_RETURN_IF_ERROR(
      AddColumnIfMissing("iceberg_tables", "weir_committed_location", "VARCHAR(1000)"));
  iceberg_tables_ready_ = true;
  return Status::OK();
}

Status Store::MovePointerLocked(const IcebergPointerMove& move) {
  const IcebergTableRow row;  // for the catalog name
  if (move.expected.empty()) {
    auto s = db_->Prepare(
        "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, "
        "metadata_location, previous_metadata_location, iceberg_type, weir_committed_location) "
        "VALUES (?, ?, ?, NULL, NULL, 'TABLE', ?) ON CONFLICT DO NOTHING");
    WEIR_RETURN_IF_ERROR(s->Bind(1, row.catalog_name)
                             .Bind(2, move.table_namespace)
                             .Bind(3, move.table_name)
                             .Bind(4, move.new_location)
                             .Run());
    if (s->Changes() == 0) {
      return Status(StatusCode::kAborted,
                    "iceberg commit conflict: table " + move.table_namespace + "." +
                        move.table_name + " was created by another writer",
                    true);
    }
    auto ns = db_->Prepare(
        "INSERT INTO iceberg_namespace_properties (catalog_name, namespace, "
        "property_key, property_value) VALUES (?, ?, 'exists', 'true') ON CONFLICT DO NOTHING");
    return ns->Bind(1, row.catalog_name).Bind(2, move.table_namespace).Run();
  }
  // The compare-and-set: a conditional UPDATE whose row count tells who won. On PostgreSQL a
  // concurrent mover's UPDATE waits on the row and then finds the location changed.
  auto s = db_->Prepare(
      "UPDATE iceberg_tables SET weir_committed_location = ? "
      "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? "
      "AND COALESCE(weir_committed_location, metadata_location) = ?");
  WEIR_RETURN_IF_ERROR(s->Bind(1, move.new_location)
                           .Bind(2, row.catalog_name)
                           .Bind(3, move.table_namespace)
                           .Bind(4, move.table_name)
                           .Bind(5, move.expected)
                           .Run());
  if (s->Changes() == 0) {
    return Status(StatusCode::kAborted,
                  "iceberg commit conflict: table " + move.table_namespace + "." +
                      move.table_name + " no longer points at " + move.expected,
                  true);
  }
  return Status::OK();
}

Result<std::optional<IcebergTableRow>> Store::IcebergTable(const std::string& table_namespace,
                                                           const std::string& table_name) {
  WEIR_ASSIGN_OR_RETURN(auto all, IcebergTables());
  for (auto& r : all) {
    if (r.table_namespace == table_namespace && r.table_name == table_name) {
      return std::optional<IcebergTableRow>(std::move(r));
    }
  }
  return std::optional<IcebergTableRow>();
}

Result<std::vector<IcebergTableRow>> Store::IcebergTables() {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(EnsureIcebergTables());
  std::vector<IcebergTableRow> out;
  WEIR_RETURN_IF_ERROR(Read([&]() -> Status {
    out.clear();
    auto s = db_->Prepare(
        "SELECT catalog_name, table_namespace, table_name, "
        "COALESCE(weir_committed_location, metadata_location, ''), "
        "COALESCE(previous_metadata_location, ''), COALESCE(metadata_location, '') "
        "FROM iceberg_tables WHERE catalog_name = ? ORDER BY table_namespace, table_name");
    s->Bind(1, IcebergTableRow().catalog_name);
    Status err;
    while (s->Step(err)) {
      IcebergTableRow r;
      r.catalog_name = s->Text(0);
      r.table_namespace = s->Text(1);
      r.table_name = s->Text(2);
      r.metadata_location = s->Text(3);
      r.previous_metadata_location = s->Text(4);
      r.published_location = s->Text(5);
      out.push_back(std::move(r));
    }
    return err;
  }));
  return out;
}

Status Store::MoveIcebergPointer(const IcebergPointerMove& move) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(EnsureIcebergTables());
  return Transact([&]() -> Status {
    WEIR_RETURN_IF_ERROR(MovePointerLocked(move));
    return AdvancePointerLocked(move.dataset, move.table_namespace, move.table_name);
  });
}

Status Store::DropIcebergTable(const std::string& table_namespace, const std::string& table_name) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_RETURN_IF_ERROR(EnsureIcebergTables());
  return Transact([&]() -> Status {
    auto s = db_->Prepare(
        "DELETE FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND "
        "table_name = ?");
    return s->Bind(1, IcebergTableRow().catalog_name)
        .Bind(2, table_namespace)
        .Bind(3, table_name)
        .Run();
  });
}

}  // namespace weir
