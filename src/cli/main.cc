// The `weir` binary: a thin layer over the library. Each subcommand registers itself (see
// cli/commands.h); main() only parses, dispatches and returns the command's exit code.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "rules/engine.h"

int main(int argc, char** argv) {
  // Diagnostics (Kafka client, stream warnings) go to stderr: stdout carries results (--json).
  spdlog::set_default_logger(spdlog::stderr_color_mt("weir"));
  // A dataset's rules are compiled when it is loaded, so bad expressions are config errors.
  weir::rules::RegisterConfigCheck();
  CLI::App app{"weir: data pipelines where you write only the parsing and business logic"};
  app.set_version_flag("--version", std::string("weir ") + WEIR_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  weir::cli::AddValidateCommand(app, exit_code);
  weir::cli::AddRunCommand(app, exit_code);
  weir::cli::AddTasksCommand(app, exit_code);
  weir::cli::AddErrorsCommand(app, exit_code);
  weir::cli::AddRedriveCommand(app, exit_code);
  weir::cli::AddQueryCommand(app, exit_code);
  weir::cli::AddLakeCommand(app, exit_code);
  weir::cli::AddGenCommand(app, exit_code);
  weir::cli::AddGeoCommand(app, exit_code);
  weir::cli::AddServeCommand(app, exit_code);
  weir::cli::AddSubmitCommand(app, exit_code);
  weir::cli::AddWorkerCommand(app, exit_code);
  weir::cli::AddWorkersCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : weir::cli::kExitBadConfig;
  }
  return exit_code;
}
