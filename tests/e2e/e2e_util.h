// Helpers for end-to-end tests: run the real `weir` binary, make temporary folders, and read the
// lake back with DuckDB independently of weir's own query path.
#pragma once

#include <duckdb.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace weir::e2e {

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
  return RunCmd(env + (env.empty() ? "" : " ") + std::string(WEIR_BIN) + " " + args);
}

inline std::string TempDir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() /
           ("weir-e2e-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
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

}  // namespace weir::e2e
