// The `weir` command line: each subcommand lives in its own file and registers itself on the
// CLI11 app through one Add*Command function. A command's callback stores its process exit code
// in `exit_code` (0 = success); it never calls exit() itself, so main() can flush logs.
#pragma once

namespace CLI {
class App;
}

namespace weir::cli {

void AddValidateCommand(CLI::App& app, int& exit_code);
void AddRunCommand(CLI::App& app, int& exit_code);
void AddTasksCommand(CLI::App& app, int& exit_code);
void AddErrorsCommand(CLI::App& app, int& exit_code);
void AddRedriveCommand(CLI::App& app, int& exit_code);
void AddQueryCommand(CLI::App& app, int& exit_code);
void AddLakeCommand(CLI::App& app, int& exit_code);  // src/cli/lake_command.cc
void AddGenCommand(CLI::App& app, int& exit_code);  // src/cli/gen_command.cc
void AddGeoCommand(CLI::App& app, int& exit_code);  // src/cli/geo_command.cc
void AddServeCommand(CLI::App& app, int& exit_code);  // src/cli/serve_command.cc
void AddSubmitCommand(CLI::App& app, int& exit_code);   // src/cli/worker_command.cc
void AddWorkerCommand(CLI::App& app, int& exit_code);   // src/cli/worker_command.cc
void AddWorkersCommand(CLI::App& app, int& exit_code);  // src/cli/worker_command.cc

}  // namespace weir::cli
