// weir lake ...: commands about a dataset's lake files themselves (today `check`; snapshots,
// compaction and expiry belong here too).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "exec/lake_check.h"
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

}  // namespace

void AddLakeCommand(CLI::App& app, int& exit_code) {
  auto* lake = app.add_subcommand("lake", "Inspect a dataset's lake files");
  lake->require_subcommand(1);
  struct Args {
    std::string file;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* check = lake->add_subcommand("check",
                                     "Verify every committed file exists with its committed size "
                                     "and list files the catalog does not know");
  check->add_option("FILE", a->file, "dataset YAML file")->required();
  check->add_flag("--json", a->json, "print the result as JSON");
  check->callback([a, &exit_code] { exit_code = LakeCheck(a->file, a->json); });
}

}  // namespace weir::cli
