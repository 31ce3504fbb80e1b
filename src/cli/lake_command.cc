// weir lake ...: commands about a dataset's lake table itself: `check` (files against the
// catalog), `snapshots` and `changes` (its Iceberg history, exec/lake_history.h), `compact` and
// `expire` (exec/lake_maintenance.h). Thin: the logic lives in exec/.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/text.h"
#include "core/text_util.h"
#include "exec/iceberg_table.h"
#include "exec/lake_check.h"
#include "exec/lake_history.h"
#include "exec/lake_maintenance.h"
#include "exec/rules_stage.h"
#include "exec/runner.h"

namespace weir::cli {
namespace {

// The dataset, with its config narrowed to the lake table `table` names: the dataset's own
// table (write.table), or its rules' derived table (rules.output.table), which is an Iceberg
// table like any other. "" is the dataset's table, or the derived table when that is the only
// one (write.connector none). Anything else is refused with the names there are.
OpenedDataset OpenLakeOrReport(const std::string& file, const std::string& table) {
  auto ds = OpenDatasetOrReport(file);
  if (!ds.ok()) return ds;
  const DatasetConfig& c = *ds.config;
  const bool own = c.write.connector == "lake";
  if (own && (table.empty() || table == c.write.table)) return ds;
  const bool derived = c.rules && c.rules->output.connector != "kafka";
  if (!own && !derived && table.empty()) return ds;  // the commands say what the dataset lacks
  if (derived && (table.empty() || table == c.rules->output.table)) {
    *ds.config = DerivedTableConfig(c);
    return ds;
  }
  std::vector<std::string> names, tables;
  if (own) {
    tables.push_back(c.write.table);
    names.push_back("'" + c.write.table + "' (the dataset's table)");
  }
  if (derived) {
    tables.push_back(c.rules->output.table);
    names.push_back("'" + c.rules->output.table + "' (its rules' derived table)");
  }
  PrintError("--table " + table + ": dataset '" + c.name + "' has no lake table of that name" +
             DidYouMean(table, tables) + "; " +
             (names.empty() ? std::string("it writes no lake table")
                            : "its tables: " + JoinNames(names, " and ")));
  ds.exit_code = kExitBadConfig;
  return ds;
}

int LakeCheck(const std::string& file, const std::string& table, bool json) {
  auto ds = OpenLakeOrReport(file, table);
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

int LakeSnapshots(const std::string& file, const std::string& table_name, bool json) {
  auto ds = OpenLakeOrReport(file, table_name);
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

int LakeChanges(const std::string& file, const std::string& table_name, int64_t since,
                bool json) {
  auto ds = OpenLakeOrReport(file, table_name);
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
                 "; `weir lake snapshots " + file +
                 (table_name.empty() ? "" : " --table " + table_name) + "` lists the snapshots");
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

int LakeCompact(const std::string& file, const std::string& table, const std::string& partition,
                int64_t target_mb, bool json) {
  auto ds = OpenLakeOrReport(file, table);
  if (!ds.ok()) return ds.exit_code;
  CompactOptions o;
  o.partition = partition;
  if (target_mb > 0) o.target_file_bytes = static_cast<uint64_t>(target_mb) << 20;
  auto report = CompactTable(*ds.config, *ds.store, o);
  if (!report.ok()) {
    PrintError(report.status().message());
    return kExitFailed;
  }
  const auto& r = *report;
  const uint64_t target = o.target_file_bytes ? o.target_file_bytes
                                              : ds.config->write.target_file_mb << 20;
  if (json) {
    OrderedJson parts = OrderedJson::array();
    for (const auto& p : r.partitions) {
      parts.push_back({{"partition", p.partition},
                       {"files_before", p.files_before},
                       {"files_after", p.files_after},
                       {"rewritten_files", p.rewritten_files},
                       {"new_files", p.new_files},
                       {"rows", p.rows},
                       {"bytes_read", p.bytes_read},
                       {"bytes_written", p.bytes_written},
                       {"seconds", p.seconds},
                       {"mb_per_s", p.MbPerSecond()}});
    }
    OrderedJson out = {{"dataset", ds.config->name},
                       {"table", ds.config->write.table},
                       {"target_file_bytes", target},
                       {"snapshot_id", OptionalId(r.snapshot_id)},
                       {"metadata_location", r.metadata_location},
                       {"attempts", r.attempts},
                       {"skipped_partitions", r.skipped_partitions},
                       {"seconds", r.seconds},
                       {"partitions", parts}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  for (const auto& p : r.partitions) {
    std::printf("%s  files %lld -> %lld (%lld rewritten into %lld)  %s rows  %.1f MB -> %.1f MB  "
                "%.1f MB/s\n",
                p.partition.empty() ? "(whole table)" : p.partition.c_str(),
                static_cast<long long>(p.files_before), static_cast<long long>(p.files_after),
                static_cast<long long>(p.rewritten_files), static_cast<long long>(p.new_files),
                FormatCount(static_cast<uint64_t>(p.rows)).c_str(), p.bytes_read / 1048576.0,
                p.bytes_written / 1048576.0, p.MbPerSecond());
  }
  if (!r.snapshot_id) {
    std::printf("nothing to compact in table '%s'%s: no partition has 2 or more data files "
                "smaller than %llu MB\n",
                ds.config->write.table.c_str(),
                partition.empty() ? "" : (" (partitions matching '" + partition + "')").c_str(),
                static_cast<unsigned long long>(target >> 20));
  } else {
    std::printf("compacted %zu partition(s) of table '%s' in %.2f s as snapshot %lld (replace)%s\n",
                r.partitions.size(), ds.config->write.table.c_str(), r.seconds,
                static_cast<long long>(*r.snapshot_id),
                r.attempts > 1 ? (", after " + std::to_string(r.attempts - 1) +
                                  " lost race(s) with concurrent commits").c_str()
                               : "");
  }
  return 0;
}

int LakeExpire(const std::string& file, const std::string& table, const std::string& older_than,
               int retain_last, bool dry_run, bool json) {
  auto age = ParseAge(older_than);
  if (!age.ok()) {
    PrintError("--older-than: " + age.status().message());
    return 2;
  }
  auto ds = OpenLakeOrReport(file, table);
  if (!ds.ok()) return ds.exit_code;
  ExpireOptions o;
  o.older_than_ms = *age;
  o.retain_last = retain_last;
  o.dry_run = dry_run;
  auto report = ExpireSnapshots(*ds.config, *ds.store, o);
  if (!report.ok()) {
    PrintError(report.status().message());
    return kExitFailed;
  }
  const auto& r = *report;
  if (json) {
    OrderedJson out = {{"dataset", ds.config->name},
                       {"table", ds.config->write.table},
                       {"dry_run", dry_run},
                       {"expired_snapshots", r.expired_snapshots},
                       {"retained_snapshots", r.retained_snapshots},
                       {"metadata_location", r.metadata_location},
                       {"data_files", r.data_files},
                       {"manifests", r.manifests},
                       {"manifest_lists", r.manifest_lists},
                       {"metadata_files", r.metadata_files},
                       {"orphans", r.orphans},
                       {"bytes", r.bytes}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  const char* verb = dry_run ? "would delete" : "deleted";
  for (const auto* list : {&r.data_files, &r.manifests, &r.manifest_lists, &r.metadata_files,
                           &r.orphans}) {
    const char* kind = list == &r.data_files       ? "data"
                       : list == &r.manifests      ? "manifest"
                       : list == &r.manifest_lists ? "manifest-list"
                       : list == &r.metadata_files ? "metadata"
                                                   : "orphan";
    for (const auto& p : *list) std::printf("%s %s %s\n", verb, kind, p.c_str());
  }
  std::printf("%s %zu snapshot(s) of table '%s', kept %lld; %s %zu data file(s), %zu manifest(s), "
              "%zu manifest list(s), %zu metadata file(s), %zu orphan(s) (%.1f MB)\n",
              dry_run ? "would expire" : "expired", r.expired_snapshots.size(),
              ds.config->write.table.c_str(), static_cast<long long>(r.retained_snapshots), verb,
              r.data_files.size(), r.manifests.size(), r.manifest_lists.size(),
              r.metadata_files.size(), r.orphans.size(), r.bytes / 1048576.0);
  return 0;
}

}  // namespace

void AddLakeCommand(CLI::App& app, int& exit_code) {
  static constexpr const char* kTableHelp =
      "the table: the dataset's own (default) or its rules' derived table (rules.output.table; "
      "the default when the dataset writes no table)";
  auto* lake = app.add_subcommand("lake", "Inspect and maintain a dataset's lake table");
  lake->require_subcommand(1);
  struct Args {
    std::string file, table;
    bool json = false;
    int64_t since = 0;
    std::string partition, older_than;
    int64_t target_mb = 0;
    int retain_last = 1;
    bool dry_run = false;
  };
  auto a = std::make_shared<Args>();
  auto* check = lake->add_subcommand("check",
                                     "Verify every committed file exists with its committed size "
                                     "and list files the catalog does not know");
  check->add_option("FILE", a->file, "dataset YAML file")->required();
  check->add_option("--table", a->table, kTableHelp);
  check->add_flag("--json", a->json, "print the result as JSON");
  check->callback([a, &exit_code] { exit_code = LakeCheck(a->file, a->table, a->json); });

  auto* snaps = lake->add_subcommand(
      "snapshots", "List the table's Iceberg snapshots, oldest first, marking the current one");
  snaps->add_option("FILE", a->file, "dataset YAML file")->required();
  snaps->add_option("--table", a->table, kTableHelp);
  snaps->add_flag("--json", a->json, "print the result as JSON");
  snaps->callback([a, &exit_code] { exit_code = LakeSnapshots(a->file, a->table, a->json); });

  auto* changes = lake->add_subcommand(
      "changes",
      "List the partitions changed by the snapshots after --since up to the current one (the "
      "partitions a downstream job must recompute)");
  changes->add_option("FILE", a->file, "dataset YAML file")->required();
  changes->add_option("--table", a->table, kTableHelp);
  changes->add_option("--since", a->since,
                      "snapshot id already processed downstream; 0 or omitted: since the table's "
                      "start");
  changes->add_flag("--json", a->json, "print the result as JSON");
  changes->callback(
      [a, &exit_code] { exit_code = LakeChanges(a->file, a->table, a->since, a->json); });

  auto* compact = lake->add_subcommand(
      "compact",
      "Rewrite each partition's small data files into files of about the target size (sorted "
      "by write.sort_by) as one Iceberg replace snapshot; safe while `weir run` commits");
  compact->add_option("FILE", a->file, "dataset YAML file")->required();
  compact->add_option("--table", a->table, kTableHelp);
  compact->add_option("--partition", a->partition,
                      "only partitions whose path has these col=value parts, e.g. 'dt=2025-11-20'");
  compact->add_option("--target-file-mb", a->target_mb,
                      "target file size in MB (default: write.target_file_mb, 128)")
      ->check(CLI::Range(1, 1048576));
  compact->add_flag("--json", a->json, "print the result as JSON");
  compact->callback([a, &exit_code] {
    exit_code = LakeCompact(a->file, a->table, a->partition, a->target_mb, a->json);
  });

  auto* expire = lake->add_subcommand(
      "expire",
      "Remove snapshots older than --older-than (keeping the current one and the last N), then "
      "delete the files only they referenced, and old orphan files");
  expire->add_option("FILE", a->file, "dataset YAML file")->required();
  expire->add_option("--table", a->table, kTableHelp);
  expire->add_option("--older-than", a->older_than, "age: 7d, 36h, 90m, 45s")->required();
  expire->add_option("--retain-last", a->retain_last,
                     "always keep this many most recent snapshots (default 1)")
      ->check(CLI::Range(1, 1000000));
  expire->add_flag("--dry-run", a->dry_run, "list what would be removed; change nothing");
  expire->add_flag("--json", a->json, "print the result as JSON");
  expire->callback([a, &exit_code] {
    exit_code =
        LakeExpire(a->file, a->table, a->older_than, a->retain_last, a->dry_run, a->json);
  });
}

}  // namespace weir::cli
