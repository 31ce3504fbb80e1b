// weir lake ...: commands about a dataset's lake table itself: `check` (files against the
// catalog), `snapshots` and `changes` (its Iceberg history, exec/lake_history.h); compaction and
// expiry belong here too. Thin: the logic lives in exec/.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/text.h"
#include "exec/iceberg_table.h"
#include "exec/lake_check.h"
#include "exec/lake_history.h"
#include "exec/runner.h"

namespace weir::cli {
namespace {

int LakeCheck(const std::string& file, bool json) {
  auto ds = OpenDatasetOrReport(file);
  if (!ds.ok()) return ds.exit_code;
  auto report = CheckLake(*ds.config, *ds.store);
  if (!report.ok()) {
    PrintError(report.status().message());
    return kExitFailed;
  }
  const auto& r = *report;
  if (json) {
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& p : r.problems) {
      problems.push_back({{"path", p.file.path},
                          {"kind", p.file.kind},
                          {"task", p.file.task_id},
                          {"rows", p.file.rows},
                          {"bytes", p.file.bytes},
                          {"problem", p.problem}});
    }
    nlohmann::json out = {{"dataset", ds.config->name},
                          {"table", ds.config->write.table},
                          {"files_checked", r.files_checked},
                          {"problems", problems},
                          {"orphans", r.orphans},
                          {"clean", r.clean()}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    for (const auto& p : r.problems) {
      std::printf("%s %s: %s (task %lld, %llu rows)\n", p.file.kind.c_str(), p.file.path.c_str(),
                  p.problem.c_str(), static_cast<long long>(p.file.task_id),
                  static_cast<unsigned long long>(p.file.rows));
    }
    for (const auto& o : r.orphans) std::printf("orphan %s: not in the catalog\n", o.c_str());
    if (r.clean()) {
      std::printf(
          "lake of dataset '%s' is consistent: %llu committed file(s) present with their sizes, "
          "no orphans\n",
          ds.config->name.c_str(), static_cast<unsigned long long>(r.files_checked));
    } else {
      std::printf(
          "%zu of %llu committed file(s) missing or damaged, %zu orphan(s)%s%s\n",
          r.problems.size(), static_cast<unsigned long long>(r.files_checked), r.orphans.size(),
          r.problems.empty()
              ? ""
              : "; restore the files from a backup or rebuild with `weir run FILE --restart`",
          r.orphans.empty() ? "" : "; orphans are not read by weir: move them away or delete them");
    }
  }
  return r.clean() ? 0 : kExitFailed;
}

using OrderedJson = nlohmann::ordered_json;

OrderedJson OptionalId(const std::optional<int64_t>& id) {
  return id ? OrderedJson(*id) : OrderedJson(nullptr);
}

// Opens the dataset's Iceberg table; prints the error and sets `exit_code` when that fails.
// An absent table (nothing committed yet) is not an error: `table` stays empty.
bool OpenTable(const OpenedDataset& ds, std::optional<LakeTable>& table, int& exit_code) {
  auto t = OpenLakeTable(*ds.config, *ds.store);
  if (!t.ok()) {
    PrintError(t.status().message());
    exit_code = kExitFailed;
    return false;
  }
  table = std::move(*t);
  return true;
}

std::string NoSnapshotYet(const DatasetConfig& c) {
  if (!UsesIceberg(c)) {
    return "table '" + c.write.table + "' of dataset '" + c.name +
           "' is a Hive table (write.table_format: " + c.write.table_format +
           "), which has no snapshots";
  }
  return "table '" + c.write.table + "' of dataset '" + c.name +
         "' has no Iceberg snapshot yet (nothing committed since it became an Iceberg table, or "
         "it was reset by --restart)";
}

int LakeSnapshots(const std::string& file, bool json) {
  auto ds = OpenDatasetOrReport(file);
  if (!ds.ok()) return ds.exit_code;
  std::optional<LakeTable> table;
  int exit_code = 0;
  if (!OpenTable(ds, table, exit_code)) return exit_code;
  std::vector<SnapshotInfo> snaps;
  if (table) snaps = ListSnapshots(table->metadata);
  if (json) {
    OrderedJson list = OrderedJson::array();
    for (const auto& s : snaps) {
      list.push_back({{"snapshot_id", s.snapshot_id},
                      {"parent_snapshot_id", OptionalId(s.parent_snapshot_id)},
                      {"sequence_number", s.sequence_number},
                      {"timestamp_ms", s.timestamp_ms},
                      {"time", FormatTimestampMs(s.timestamp_ms)},
                      {"operation", s.operation},
                      {"added_files", s.added_files},
                      {"deleted_files", s.deleted_files},
                      {"added_records", s.added_records},
                      {"deleted_records", s.deleted_records},
                      {"total_files", s.total_files},
                      {"total_records", s.total_records},
                      {"weir_run", s.weir_run},
                      {"current", s.current},
                      {"summary", s.summary}});
    }
    OrderedJson out = {{"dataset", ds.config->name},
                       {"table", ds.config->write.table},
                       {"metadata_location", table ? table->metadata_location : std::string()},
                       {"current_snapshot_id",
                        OptionalId(table ? table->metadata.current_snapshot_id : std::nullopt)},
                       {"snapshots", list}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (snaps.empty()) {
    std::printf("%s\n", NoSnapshotYet(*ds.config).c_str());
    return 0;
  }
  std::printf("  %-19s  %-19s  %-24s  %-9s  %10s  %16s  %s\n", "snapshot", "parent",
              "committed (UTC)", "operation", "files +/-", "records +/-", "run");
  for (const auto& s : snaps) {
    const std::string files =
        "+" + std::to_string(s.added_files) + " -" + std::to_string(s.deleted_files);
    const std::string records =
        "+" + std::to_string(s.added_records) + " -" + std::to_string(s.deleted_records);
    std::printf("%c %-19lld  %-19s  %-24s  %-9s  %10s  %16s  %s\n", s.current ? '*' : ' ',
                static_cast<long long>(s.snapshot_id),
                s.parent_snapshot_id ? std::to_string(*s.parent_snapshot_id).c_str() : "-",
                FormatTimestampMs(s.timestamp_ms).c_str(), s.operation.c_str(), files.c_str(),
                records.c_str(), s.weir_run.empty() ? "-" : s.weir_run.c_str());
  }
  const SnapshotInfo& last = snaps.back();
  std::printf("%zu snapshot(s) of table '%s'; * marks the current one (%s records in %s files)\n",
              snaps.size(), ds.config->write.table.c_str(),
              FormatCount(static_cast<uint64_t>(last.total_records)).c_str(),
              FormatCount(static_cast<uint64_t>(last.total_files)).c_str());
  return 0;
}

int LakeChanges(const std::string& file, int64_t since, bool json) {
  auto ds = OpenDatasetOrReport(file);
  if (!ds.ok()) return ds.exit_code;
  std::optional<LakeTable> table;
  int exit_code = 0;
  if (!OpenTable(ds, table, exit_code)) return exit_code;
  ChangesSince changes;
  changes.since = since;
  if (table) {
    auto c = ChangedPartitions(table->metadata, since, table->load, table->hive_names);
    if (!c.ok()) {
      PrintError("table '" + ds.config->write.table + "': " + c.status().message() +
                 "; `weir lake snapshots " + file + "` lists the snapshots");
      return kExitFailed;
    }
    changes = std::move(*c);
  } else if (since != 0) {
    PrintError(NoSnapshotYet(*ds.config) + ", so snapshot " + std::to_string(since) +
               " is not one of its snapshots");
    return kExitFailed;
  }
  if (json) {
    OrderedJson parts = OrderedJson::array();
    for (const auto& p : changes.partitions) {
      OrderedJson values = OrderedJson::object();
      for (const auto& [name, v] : p.values)
        values[name] = v ? OrderedJson(*v) : OrderedJson(nullptr);
      parts.push_back({{"partition", p.path},
                       {"values", values},
                       {"added_files", p.added_files},
                       {"added_records", p.added_records},
                       {"deleted_files", p.deleted_files},
                       {"deleted_records", p.deleted_records},
                       {"snapshots", p.snapshots}});
    }
    OrderedJson out = {{"dataset", ds.config->name},   {"table", ds.config->write.table},
                       {"since", changes.since},       {"since_expired", changes.since_expired},
                       {"to", OptionalId(changes.to)}, {"snapshots", changes.snapshots},
                       {"partitions", parts}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  for (const auto& p : changes.partitions) {
    std::string by;
    for (int64_t id : p.snapshots) by += (by.empty() ? "" : ", ") + std::to_string(id);
    std::printf("%s  +%lld file(s) +%lld record(s)",
                p.path.empty() ? "(whole table)" : p.path.c_str(),
                static_cast<long long>(p.added_files), static_cast<long long>(p.added_records));
    if (p.deleted_files > 0) {
      std::printf("  -%lld file(s) -%lld record(s)", static_cast<long long>(p.deleted_files),
                  static_cast<long long>(p.deleted_records));
    }
    std::printf("  by snapshot%s %s\n", p.snapshots.size() == 1 ? "" : "s", by.c_str());
  }
  const std::string from =
      since == 0 ? std::string("since the table's start")
                 : "after snapshot " + std::to_string(since) +
                       (changes.since_expired ? " (expired; its successors are kept)" : "");
  if (!changes.to) {
    std::printf("%s\n", NoSnapshotYet(*ds.config).c_str());
  } else {
    std::printf("%zu partition(s) changed by %zu snapshot(s) %s, up to the current snapshot %lld\n",
                changes.partitions.size(), changes.snapshots.size(), from.c_str(),
                static_cast<long long>(*changes.to));
  }
  return 0;
}

}  // namespace

void AddLakeCommand(CLI::App& app, int& exit_code) {
  auto* lake = app.add_subcommand("lake", "Inspect a dataset's lake files");
  lake->require_subcommand(1);
  struct Args {
    std::string file;
    bool json = false;
    int64_t since = 0;
  };
  auto a = std::make_shared<Args>();
  auto* check = lake->add_subcommand("check",
                                     "Verify every committed file exists with its committed size "
                                     "and list files the catalog does not know");
  check->add_option("FILE", a->file, "dataset YAML file")->required();
  check->add_flag("--json", a->json, "print the result as JSON");
  check->callback([a, &exit_code] { exit_code = LakeCheck(a->file, a->json); });

  auto* snaps = lake->add_subcommand(
      "snapshots", "List the table's Iceberg snapshots, oldest first, marking the current one");
  snaps->add_option("FILE", a->file, "dataset YAML file")->required();
  snaps->add_flag("--json", a->json, "print the result as JSON");
  snaps->callback([a, &exit_code] { exit_code = LakeSnapshots(a->file, a->json); });

  auto* changes = lake->add_subcommand(
      "changes",
      "List the partitions changed by the snapshots after --since up to the current one (the "
      "partitions a downstream job must recompute)");
  changes->add_option("FILE", a->file, "dataset YAML file")->required();
  changes->add_option("--since", a->since,
                      "snapshot id already processed downstream; 0 or omitted: since the table's "
                      "start");
  changes->add_flag("--json", a->json, "print the result as JSON");
  changes->callback([a, &exit_code] { exit_code = LakeChanges(a->file, a->since, a->json); });
}

}  // namespace weir::cli
