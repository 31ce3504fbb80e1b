// What a new user hit with manifests and `weir validate` (issues 8 and 9), through the real
// binary: duplicate spellings, byte order marks, missing/empty manifests, FIFOs and symlink loops
// in the manifest, validate output, and excerpts of column-check errors of multi-file readers.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "e2e_util.h"

namespace weir::e2e {
namespace {

std::string JsonlYaml() {
  return "name: m\nread:\n  connector: files\n  location: data\n  manifest: data/manifest.txt\n"
         "  parser: jsonl\nwrite:\n  connector: lake\n  location: lake\n  table: t\n  format: "
         "jsonl\n"
         "  columns:\n    id: {path: /id, type: int64, required: true}\ncompute:\n  workers: 1\n"
         "  retries: 3\n";
}

std::string Dataset(const std::string& name, const std::string& manifest) {
  const std::string dir = TempDir(name);
  WriteAll(dir + "/data/a.jsonl", "{\"id\":1}\n{\"id\":2}\n");
  WriteAll(dir + "/data/b.jsonl", "{\"id\":3}\n");
  WriteAll(dir + "/data/manifest.txt", manifest);
  WriteAll(dir + "/dataset.yaml", JsonlYaml());
  return dir;
}

// stdout and stderr together.
CmdResult WeirAll(const std::string& args) {
  return RunCmd(WeirBin() + " " + args + " 2>&1");
}

nlohmann::json RunJson(const std::string& yaml) {
  auto r = Weir("run " + yaml + " --json --no-progress");
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) j = nlohmann::json::object({{"_raw", r.out}});
  j["_exit"] = r.exit_code;
  return j;
}

// Regression: "a.jsonl" and "./a.jsonl" made two tasks and every row landed twice.
TEST(ManifestE2E, TheSameFileListedTwiceFailsValidateAndRunNamingBothLines) {
  const std::string dir = Dataset("dup", "./a.jsonl\nb.jsonl\na.jsonl\n");
  auto v = WeirAll("validate " + dir + "/dataset.yaml");
  EXPECT_EQ(v.exit_code, 2) << v.out;
  EXPECT_NE(v.out.find("manifest line 3: 'a.jsonl' is the same file as line 1 ('./a.jsonl')"),
            std::string::npos)
      << v.out;
  EXPECT_EQ(v.out.find("is valid"), std::string::npos) << v.out;
  auto r = WeirAll("run " + dir + "/dataset.yaml --no-progress");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("manifest line 3"), std::string::npos) << r.out;
  EXPECT_EQ(Weir("tasks " + dir + "/dataset.yaml --json").out.find("a.jsonl"), std::string::npos)
      << "no task may be created";
  if (std::filesystem::exists(dir + "/lake")) {
    for (const auto& f : std::filesystem::recursive_directory_iterator(dir + "/lake")) {
      EXPECT_NE(f.path().extension(), ".jsonl") << "nothing may be loaded: " << f.path();
    }
  }
  // Fixed manifest: each file once, each row once.
  WriteAll(dir + "/data/manifest.txt", "./a.jsonl\nsub/../b.jsonl\n");
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  ASSERT_EQ(j["tasks"].size(), 2u);
  EXPECT_EQ(j["tasks"][0]["file"], "a.jsonl");
  EXPECT_EQ(j["totals"]["written"], 3);
}

// Stores made before entries were normalised hold tasks as "./a.jsonl". Reading the same files
// as "a.jsonl" now must neither give them second tasks (loading them twice) nor retire the old
// tasks (never running an unfinished one).
TEST(ManifestE2E, OldStoreWithDotSlashEntriesKeepsItsTasks) {
  const std::string dir = Dataset("oldstore", "a.jsonl\n");
  auto first = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(first["_exit"], 0) << first.dump();
  {
    // What an older weir would have stored for the manifest "./a.jsonl\n./b.jsonl\n" with b's
    // task not run yet.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/.weir/store.db").c_str(), &db), SQLITE_OK);
    const std::string sql =
        "UPDATE tasks SET entry = './a.jsonl'; INSERT INTO tasks(dataset, entry, "
        "path) VALUES ('m', './b.jsonl', '" +
        dir + "/data/b.jsonl')";
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
    sqlite3_close(db);
  }
  WriteAll(dir + "/data/manifest.txt", "a.jsonl\nb.jsonl\n");
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  auto tasks = nlohmann::json::parse(Weir("tasks " + dir + "/dataset.yaml --json").out);
  ASSERT_EQ(tasks.size(), 2u) << tasks.dump();
  EXPECT_EQ(tasks[0]["file"], "./a.jsonl");
  EXPECT_EQ(tasks[0]["status"], "COMPLETED");
  EXPECT_EQ(tasks[1]["file"], "./b.jsonl");
  EXPECT_EQ(tasks[1]["status"], "COMPLETED");
  Duck duck;
  EXPECT_EQ(duck.One("SELECT count(*) FROM read_json_auto('" + dir + "/lake/t/**/*.jsonl')"), "3");
}

// Regression: a UTF-8 BOM stayed in the first file name, whose task then failed.
TEST(ManifestE2E, ByteOrderMarkIsNotPartOfTheFirstFileName) {
  const std::string dir = Dataset("bom",
                                  "\xEF\xBB\xBF"
                                  "a.jsonl\r\nb.jsonl\r\n");
  auto j = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(j["_exit"], 0) << j.dump();
  EXPECT_EQ(j["tasks"][0]["file"], "a.jsonl");
  EXPECT_EQ(j["totals"]["written"], 3);
}

// Regression: validate exited 0 with a missing manifest, a folder, or an empty manifest.
TEST(ManifestE2E, MissingFolderOrEmptyManifestFailsValidateAndRunWithKeyPathAndReason) {
  const std::string dir = Dataset("nomanifest", "a.jsonl\n");
  const std::string manifest = dir + "/data/manifest.txt";
  std::filesystem::remove(manifest);
  struct Case {
    const char* what;
    std::function<void()> make;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"missing", [] {}, "does not exist"},
      {"folder", [&] { std::filesystem::create_directories(manifest); }, "is a folder"},
      {"empty",
       [&] {
         std::filesystem::remove_all(manifest);
         WriteAll(manifest, "# nothing yet\n\n");
       },
       "lists no input files"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    c.make();
    for (const char* cmd : {"validate", "run"}) {
      auto r = WeirAll(std::string(cmd) + " " + dir + "/dataset.yaml");
      EXPECT_EQ(r.exit_code, 2) << cmd << ": " << r.out;
      EXPECT_NE(r.out.find("read.manifest: " + manifest + ": " + c.reason), std::string::npos)
          << cmd << ": " << r.out;
      EXPECT_EQ(r.out.find("is valid"), std::string::npos) << r.out;
    }
  }
}

// Regression: a FIFO in the manifest blocked `weir run` forever in open() with the dataset lock
// held; validate did not notice.
TEST(ManifestE2E, FifoInTheManifestFailsItsTaskAtOnceAndValidateSaysSo) {
  const std::string dir = Dataset("fifo", "a.jsonl\npipe.jsonl\n");
  ASSERT_EQ(::mkfifo((dir + "/data/pipe.jsonl").c_str(), 0644), 0);
  auto v = WeirAll("validate " + dir + "/dataset.yaml");
  EXPECT_EQ(v.exit_code, 2) << v.out;
  EXPECT_NE(v.out.find("pipe.jsonl is a FIFO, not a regular file"), std::string::npos) << v.out;
  EXPECT_EQ(v.out.find("is valid"), std::string::npos) << v.out;
  auto r = RunCmd("timeout 60 " + WeirBin() + " run " + dir +
                  "/dataset.yaml --json --no-progress");
  ASSERT_NE(r.exit_code, 124) << "weir run blocked on the FIFO";
  EXPECT_EQ(r.exit_code, 1) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["tasks"].size(), 2u);
  EXPECT_EQ(j["tasks"][0]["status"], "COMPLETED");
  EXPECT_EQ(j["tasks"][1]["status"], "ERROR");
  EXPECT_EQ(j["tasks"][1]["attempts"], 1) << "a FIFO never becomes a file: no retries";
  EXPECT_NE(j["tasks"][1]["reason"].get<std::string>().find("is a FIFO, not a regular file"),
            std::string::npos)
      << j["tasks"][1]["reason"];
}

// Regression: validate called a symlink loop "does not exist" and run retried it 4 times.
TEST(ManifestE2E, SymlinkLoopIsReportedAsSuchAndNotRetried) {
  const std::string dir = Dataset("loop", "a.jsonl\nloop.jsonl\n");
  std::filesystem::create_symlink(dir + "/data/loop2.jsonl", dir + "/data/loop.jsonl");
  std::filesystem::create_symlink(dir + "/data/loop.jsonl", dir + "/data/loop2.jsonl");
  auto v = WeirAll("validate " + dir + "/dataset.yaml");
  EXPECT_EQ(v.exit_code, 2) << v.out;
  EXPECT_NE(v.out.find("symlink loop"), std::string::npos) << v.out;
  EXPECT_EQ(v.out.find("does not exist"), std::string::npos) << v.out;
  auto j = RunJson(dir + "/dataset.yaml");
  EXPECT_EQ(j["_exit"], 1) << j.dump();
  ASSERT_EQ(j["tasks"].size(), 2u);
  EXPECT_EQ(j["tasks"][1]["status"], "ERROR");
  EXPECT_EQ(j["tasks"][1]["attempts"], 1);
  EXPECT_NE(j["tasks"][1]["reason"].get<std::string>().find("symlink loop"), std::string::npos)
      << j["tasks"][1]["reason"];
  // A file that is merely not there yet stays a warning.
  WriteAll(dir + "/data/manifest.txt", "a.jsonl\nlater.jsonl\n");
  auto w = WeirAll("validate " + dir + "/dataset.yaml");
  EXPECT_EQ(w.exit_code, 0) << w.out;
  EXPECT_NE(w.out.find("later.jsonl does not exist"), std::string::npos) << w.out;
  EXPECT_NE(w.out.find("is valid"), std::string::npos) << w.out;
}

std::string Plugin(const std::string& name) {
  return TestPluginDir() + "/lib" + name + "_plugin.so";
}

// Regression: validate printed the plugin error and THEN "dataset ... is valid".
TEST(ValidateE2E, PluginProblemsFailWithoutSayingValidAndOptionsErrorsNameTheLine) {
  const std::string dir = Dataset("plugins", "a.jsonl\n");
  auto yaml = [&](const std::string& plugin, const std::string& parser,
                  const std::string& options) {
    return "name: m\nplugins: [" + plugin +
           "]\nread:\n  connector: files\n  location: data\n"
           "  manifest: data/manifest.txt\n  parser: " +
           parser + "\n  options: " + options +
           "\nwrite:\n  connector: lake\n  location: lake\n  table: t\n  columns:\n"
           "    ts: {path: /ts, type: string}\n";
  };
  WriteAll(dir + "/unknown.yaml", yaml(LogfilePlugin(), "plugin:javalg", "{}"));
  WriteAll(dir + "/options.yaml", yaml(LogfilePlugin(), "plugin:logfile", "{min_level: LOUD}"));
  WriteAll(dir + "/missing.yaml", yaml(dir + "/nowhere.so", "plugin:logfile", "{}"));
  for (const char* f : {"unknown", "options", "missing"}) {
    SCOPED_TRACE(f);
    auto v = WeirAll("validate " + dir + "/" + f + ".yaml");
    EXPECT_EQ(v.exit_code, 2) << v.out;
    EXPECT_NE(v.out.find("error:"), std::string::npos) << v.out;
    EXPECT_EQ(v.out.find("is valid"), std::string::npos) << v.out;
  }
  auto o = WeirAll("validate " + dir + "/options.yaml");
  // "options: {min_level: LOUD}" is line 8 of the file.
  EXPECT_NE(o.out.find(dir + "/options.yaml:8: read.options"), std::string::npos) << o.out;
  auto ok = WeirAll("validate " + dir + "/dataset.yaml");
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  // "is valid" is the last line, after the manifest summary.
  EXPECT_NE(ok.out.find("manifest: 1 file(s)"), std::string::npos) << ok.out;
  EXPECT_LT(ok.out.find("manifest: 1 file(s)"), ok.out.find("is valid")) << ok.out;
}

std::string PairYaml(const std::string& columns) {
  return "name: pair\nplugins: [" + Plugin("pair") +
         "]\nread:\n  connector: files\n  location: in\n  manifest: in/manifest.txt\n"
         "  parser: plugin:pair\n  options: {}\nwrite:\n  connector: lake\n  location: lake\n"
         "  table: t\n  columns:\n" +
         columns;
}

// Regression: validate called an existing file of a multi-file entry without TYPE: prefixes
// "missing" instead of naming the entry's problem.
TEST(ValidateE2E, MultiFileEntryProblemsAreNamedNotCalledMissing) {
  const std::string dir = TempDir("mf-validate");
  WriteAll(dir + "/in/a.txt", "k0 a0\n");
  WriteAll(dir + "/in/b.txt", "k0 b0\n");
  WriteAll(dir + "/in/manifest.txt", "a.txt\n");
  WriteAll(dir + "/dataset.yaml", PairYaml("    key: {path: /key, type: string}\n"));
  auto v = WeirAll("validate " + dir + "/dataset.yaml");
  EXPECT_EQ(v.exit_code, 2) << v.out;
  EXPECT_NE(v.out.find("has no TYPE: prefix"), std::string::npos) << v.out;
  EXPECT_EQ(v.out.find("missing"), std::string::npos) << v.out;
  EXPECT_EQ(v.out.find("is valid"), std::string::npos) << v.out;
  WriteAll(dir + "/in/manifest.txt", "A:a.txt|B:b.txt\nB:./b.txt|A:x/../a.txt\n");
  auto d = WeirAll("validate " + dir + "/dataset.yaml");
  EXPECT_EQ(d.exit_code, 2) << d.out;
  EXPECT_NE(d.out.find("manifest line 2: 'B:./b.txt|A:x/../a.txt' is the same file as line 1"),
            std::string::npos)
      << d.out;
}

// Regression: documents of a multi-file reader that failed a column check got "excerpt": ""
// while the built-in parsers give the record's bytes.
TEST(ExcerptE2E, ColumnCheckFailuresOfMultiFileDocumentsCarryTheExcerpt) {
  const std::string dir = TempDir("mf-excerpt");
  WriteAll(dir + "/in/a.txt", "k0 12\nk1 notanumber\nk2 \xff\xfe\n");
  WriteAll(dir + "/in/b.txt", "k0 b0\nk1 b1\nk2 b2\n");
  WriteAll(dir + "/in/manifest.txt", "A:a.txt|B:b.txt\n");
  WriteAll(dir + "/dataset.yaml", PairYaml("    key: {path: /key, type: string, required: true}\n"
                                           "    a: {path: /a, type: int64}\n"
                                           "    b: {path: /b, type: string}\n"));
  auto j = RunJson(dir + "/dataset.yaml");
  EXPECT_EQ(j["totals"]["written"], 1) << j.dump();
  EXPECT_EQ(j["totals"]["errored"], 2) << j.dump();
  std::istringstream in(Weir("errors " + dir + "/dataset.yaml --json").out);
  std::vector<nlohmann::json> errs;
  for (std::string line; std::getline(in, line);) errs.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0]["excerpt"], "k1 notanumber\n") << errs[0].dump();
  EXPECT_EQ(errs[0]["start_offset"], 6);
  // Invalid UTF-8: the excerpt is escaped text plus the exact bytes in base64.
  EXPECT_NE(errs[1]["excerpt"].get<std::string>(), "") << errs[1].dump();
  EXPECT_EQ(errs[1]["excerpt_base64"], "azIg//4K") << errs[1].dump();
}

}  // namespace
}  // namespace weir::e2e
