// Helpers for end-to-end tests: run the real `weir` binary, make temporary folders, and read the
// lake back with DuckDB independently of weir's own query path.
#pragma once

#include <arpa/inet.h>
#include <duckdb.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../common/process_util.h"

extern char** environ;

namespace weir::e2e {

// Paths of the binaries the tests run. CMake compiles in those of the tree this driver was built
// in (WEIR_BUILT_*). WEIR_E2E_BUILD_DIR, when set, names another tree built from the same sources
// whose binaries this driver runs instead: the sanitizer tree runs the normal tree's e2e_tests
// against its own instrumented weir, plugins and tools rather than compiling this driver a second
// time (it is uninstrumented in both trees; see WEIR_E2E_DRIVER in CMakeLists.txt). A unit test
// that includes this header defines at most WEIR_BUILT_BIN (iceberg_table_test.cc: /bin/false).
inline std::string InBuildTree(const std::string& built) {
  const std::string compiled_dir = std::string(WEIR_BINARY_DIR) + "/";
  const char* dir = std::getenv("WEIR_E2E_BUILD_DIR");
  if (dir == nullptr || *dir == '\0' || built.rfind(compiled_dir, 0) != 0) return built;
  return dir + ("/" + built.substr(compiled_dir.size()));
}
#ifdef WEIR_BUILT_BIN
inline std::string WeirBin() { return InBuildTree(WEIR_BUILT_BIN); }
#endif
#ifdef WEIR_BUILT_KAFKA_MOCK
inline std::string KafkaMockBin() { return InBuildTree(WEIR_BUILT_KAFKA_MOCK); }
#endif
#ifdef WEIR_BUILT_TEST_PLUGIN_DIR
inline std::string TestPluginDir() { return InBuildTree(WEIR_BUILT_TEST_PLUGIN_DIR); }
#endif
#ifdef WEIR_BUILT_LOGFILE_PLUGIN
inline std::string LogfilePlugin() { return InBuildTree(WEIR_BUILT_LOGFILE_PLUGIN); }
#endif
#ifdef WEIR_BUILT_WEBCRAWL_PLUGIN
inline std::string WebcrawlPlugin() { return InBuildTree(WEIR_BUILT_WEBCRAWL_PLUGIN); }
#endif

struct CmdResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;     // stdout (stderr goes to the test log)
};

inline CmdResult RunCmd(const std::string& cmd) {
  CmdResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  if (WIFEXITED(st)) {
    r.exit_code = WEXITSTATUS(st);
    // The shell reports a child killed by a signal as 128 + signal.
    if (r.exit_code > 128) r.signal = r.exit_code - 128;
  } else if (WIFSIGNALED(st)) {
    r.signal = WTERMSIG(st);
  }
  return r;
}

inline CmdResult Weir(const std::string& args, const std::string& env = "") {
  return RunCmd(env + (env.empty() ? "" : " ") + WeirBin() + " " + args);
}

// What a test made under the temp folder (TempDir, scratch files): removed when the test passed
// or was skipped, kept and named on stdout when it failed, so what weir left can be looked at.
// Without this every run of the suite left ~3 GB in /tmp. ctest runs each test in a process of
// its own, so the paths registered in a process are its test's. WEIR_KEEP_TEMP=1 keeps them
// all. Owned by GoogleTest's listener list once registered; Add may be called from any thread.
class TempCleanup : public ::testing::EmptyTestEventListener {
 public:
  // The process's listener, registered with GoogleTest on first use.
  static TempCleanup& Get() {
    static TempCleanup* const listener = [] {
      auto* l = new TempCleanup;
      ::testing::UnitTest::GetInstance()->listeners().Append(l);
      return l;
    }();
    return *listener;
  }

  void Add(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    paths_.push_back(path);
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    std::vector<std::string> paths;
    {
      std::lock_guard<std::mutex> lock(mu_);
      paths.swap(paths_);
    }
    const char* keep = std::getenv("WEIR_KEEP_TEMP");
    if (info.result()->Failed() || (keep != nullptr && std::string(keep) == "1")) {
      for (const auto& p : paths) std::printf("kept for a look: %s\n", p.c_str());
      return;
    }
    for (const auto& p : paths) {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  }

 private:
  std::mutex mu_;
  std::vector<std::string> paths_;
};

inline std::string TempDir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() /
           ("weir-e2e-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  TempCleanup::Get().Add(d.string());
  return d.string();
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void WriteAll(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f << data;
}

// An in-memory DuckDB for reading lake files back; rows come back as text.
class Duck {
 public:
  Duck() {
    duckdb_open(nullptr, &db_);
    duckdb_connect(db_, &con_);
    Rows("SET TimeZone = 'UTC'");
  }
  ~Duck() {
    duckdb_disconnect(&con_);
    duckdb_close(&db_);
  }
  // Returns rows of text cells ("NULL" for nulls); on error a single row {"ERROR: ..."}.
  std::vector<std::vector<std::string>> Rows(const std::string& sql) {
    duckdb_result r;
    std::vector<std::vector<std::string>> out;
    if (duckdb_query(con_, sql.c_str(), &r) == DuckDBError) {
      out.push_back({std::string("ERROR: ") + duckdb_result_error(&r)});
      duckdb_destroy_result(&r);
      return out;
    }
    for (idx_t i = 0; i < duckdb_row_count(&r); ++i) {
      std::vector<std::string> row;
      for (idx_t c = 0; c < duckdb_column_count(&r); ++c) {
        if (duckdb_value_is_null(&r, c, i)) {
          row.push_back("NULL");
          continue;
        }
        char* v = duckdb_value_varchar(&r, c, i);
        row.push_back(v);
        duckdb_free(v);
      }
      out.push_back(row);
    }
    duckdb_destroy_result(&r);
    return out;
  }
  std::string One(const std::string& sql) {
    auto rows = Rows(sql);
    if (rows.empty() || rows[0].empty()) return "<no rows>";
    return rows[0][0];
  }

 private:
  duckdb_database db_ = nullptr;
  duckdb_connection con_ = nullptr;
};

// A static-file HTTP server for crawls in tests: `/usr/bin/python3 -m http.server` on a free
// loopback port, serving one folder (a LoopbackService).
class LocalHttpServer : public LoopbackService {
 public:
  // Serves `folder`; server output goes to `log_path`. False when no server came up.
  bool Start(const std::string& folder, const std::string& log_path) {
    return LoopbackService::Start(
        [&](int port) {
          return std::vector<std::string>{"timeout", "-k", "5", "300", "/usr/bin/python3", "-m",
                                          "http.server", "--bind", "127.0.0.1",
                                          std::to_string(port), "--directory", folder};
        },
        log_path);
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/"; }
};

// ---- the npm peers (scripts/install-deps.sh installs them into third_party/node) ----

inline std::string NodeModules() { return WEIR_SOURCE_DIR "/third_party/node/node_modules"; }

inline bool HaveIcebird() {
  return std::filesystem::exists(NodeModules() + "/icebird/src/index.js") &&
         std::system("node --version >/dev/null 2>&1") == 0;
}

// Reads an Iceberg table over HTTP with the npm package `icebird` (tests/lake/icebird_read.mjs):
// on success `out` is a JSON array of the rows. `metadata_file` ("" = follow version-hint.text)
// picks a version; `map` ("PREFIX=URL") redirects locations the metadata names (local paths) to
// the HTTP server.
inline CmdResult IcebirdRead(const std::string& table_url, const std::string& metadata_file = "",
                             const std::string& map = "") {
  return RunCmd("node " WEIR_SOURCE_DIR "/tests/lake/icebird_read.mjs '" + NodeModules() + "' '" +
                table_url + "' '" + metadata_file + "' '" + map + "'");
}

// The `id` column of the current snapshot (or of `metadata_file`) of the Iceberg table at
// `dir`/`table`, read by icebird through a LocalHttpServer over `dir`; sorted.
inline std::vector<std::string> IcebirdIds(const std::string& dir, const std::string& metadata_file = "",
                                           const std::string& table = "lake/events") {
  LocalHttpServer server;
  EXPECT_TRUE(server.Start(dir, dir + "/http.log"));
  CmdResult r = IcebirdRead(server.base_url() + table, metadata_file, dir + "/=" + server.base_url());
  EXPECT_EQ(r.exit_code, 0) << r.out.substr(0, 2000);
  std::vector<std::string> ids;
  if (r.exit_code != 0) return ids;
  for (const auto& row : nlohmann::json::parse(r.out)) ids.push_back(row["id"].get<std::string>());
  std::sort(ids.begin(), ids.end());
  return ids;
}

// The snapshots `weir lake snapshots --json` lists for the dataset at `yaml` (oldest first);
// an empty array when the command fails or the table has none yet.
inline nlohmann::json LakeSnapshots(const std::string& yaml) {
  CmdResult r = Weir("lake snapshots " + yaml + " --json 2>/dev/null");
  auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  if (r.exit_code != 0 || j.is_discarded() || !j.contains("snapshots")) {
    return nlohmann::json::array();
  }
  return j["snapshots"];
}

// The record count of the current snapshot in `snapshots` (LakeSnapshots), 0 without one.
inline uint64_t CurrentRecords(const nlohmann::json& snapshots) {
  for (const auto& s : snapshots) {
    if (s["current"].get<bool>()) return s["total_records"].get<uint64_t>();
  }
  return 0;
}

}  // namespace weir::e2e
