// ReadManifest: normalised entries, duplicates (also through symlinks), the byte order mark, and
// manifests that are missing, folders or empty; and the store side of normalisation (old stores
// holding "./a.jsonl" get no second task for "a.jsonl").
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "exec/reader_task.h"
#include "exec/runner.h"
#include "exec/store.h"
#include "weir/sdk.h"

namespace weir {
namespace {

namespace stdfs = std::filesystem;

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        (stdfs::temp_directory_path() / ("weir-manifest-" + std::to_string(::getpid()))).string();
    stdfs::remove_all(dir_);
    stdfs::create_directories(dir_ + "/data/sub");
    cfg_.name = "ds";
    cfg_.read.location = dir_ + "/data";
    cfg_.read.manifest = dir_ + "/data/manifest.txt";
    Write("data/a.jsonl", "{}\n");
    Write("data/b.jsonl", "{}\n");
  }
  void TearDown() override { stdfs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(dir_ + "/" + rel, std::ios::binary) << text;
  }
  Result<std::vector<std::pair<std::string, std::string>>> Read(const std::string& manifest) {
    Write("data/manifest.txt", manifest);
    return ReadManifest(cfg_);
  }
  std::string dir_;
  DatasetConfig cfg_;
};

TEST_F(ManifestTest, EntriesAreNormalisedLexically) {
  auto r = Read("./a.jsonl\n# comment\n\n  sub/../b.jsonl  \r\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].first, "a.jsonl");
  EXPECT_EQ((*r)[0].second, dir_ + "/data/a.jsonl");
  EXPECT_EQ((*r)[1].first, "b.jsonl");
  EXPECT_EQ((*r)[1].second, dir_ + "/data/b.jsonl");
}

// Regression: "a.jsonl" and "./a.jsonl" made two tasks and every row of the file landed twice.
TEST_F(ManifestTest, TheSameFileUnderTwoSpellingsIsAnErrorNamingBothLines) {
  auto r = Read("./a.jsonl\nb.jsonl\na.jsonl\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(
                "manifest line 3: 'a.jsonl' is the same file as line 1 ('./a.jsonl')"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("read.manifest"), std::string::npos);
  auto up = Read("a.jsonl\nsub/../a.jsonl\n");
  ASSERT_FALSE(up.ok());
  EXPECT_NE(up.status().message().find("line 2: 'sub/../a.jsonl' is the same file as line 1"),
            std::string::npos)
      << up.status().message();
  auto abs = Read("a.jsonl\n" + dir_ + "/data/./a.jsonl\n");
  EXPECT_FALSE(abs.ok());
}

// Regression: an exact repeated line was dropped silently.
TEST_F(ManifestTest, AnExactlyRepeatedLineIsAnError) {
  auto r = Read("a.jsonl\nb.jsonl\na.jsonl\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(
                "manifest line 3: 'a.jsonl' is the same file as line 1 ('a.jsonl')"),
            std::string::npos)
      << r.status().message();
}

TEST_F(ManifestTest, ASymlinkedAliasIsTheSameFile) {
  stdfs::create_symlink(dir_ + "/data/a.jsonl", dir_ + "/data/alias.jsonl");
  auto r = Read("a.jsonl\nalias.jsonl\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line 2: 'alias.jsonl' is the same file as line 1"),
            std::string::npos)
      << r.status().message();
  // Missing files are compared by path only (they may arrive later).
  EXPECT_TRUE(Read("a.jsonl\nlate1.jsonl\nlate2.jsonl\n").ok());
}

// Regression: a UTF-8 byte order mark stayed in the first file name ("\xEF\xBB\xBFa.jsonl").
TEST_F(ManifestTest, ByteOrderMarkIsStripped) {
  auto r = Read(
      "\xEF\xBB\xBF"
      "a.jsonl\r\nb.jsonl\r\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].first, "a.jsonl");
  EXPECT_EQ((*r)[0].second, dir_ + "/data/a.jsonl");
}

// Regression: a missing manifest, a folder or an empty manifest passed validation.
TEST_F(ManifestTest, MissingFolderOrEmptyManifestIsInvalidNamingKeyAndPath) {
  auto missing = ReadManifest(cfg_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(
      missing.status().message().find("read.manifest: " + cfg_.read.manifest + ": does not exist"),
      std::string::npos)
      << missing.status().message();
  auto empty = Read("# nothing yet\n\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("lists no input files"), std::string::npos)
      << empty.status().message();
  cfg_.read.manifest = dir_ + "/data/sub";
  auto folder = ReadManifest(cfg_);
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(
      folder.status().message().find("read.manifest: " + cfg_.read.manifest + ": is a folder"),
      std::string::npos)
      << folder.status().message();
}

TEST_F(ManifestTest, MultiFileEntriesAreComparedByTheirFiles) {
  std::vector<sdk::RecordType> types(2);
  types[0].name = "A";
  types[1].name = "B";
  Write("data/manifest.txt", "A:a.jsonl|B:b.jsonl\nB:./b.jsonl|A:sub/../a.jsonl\n");
  auto r = ReadManifest(cfg_, &types);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("manifest line 2"), std::string::npos)
      << r.status().message();
  Write("data/manifest.txt", "A:a.jsonl|B:b.jsonl\nA:b.jsonl|B:a.jsonl\n");
  auto ok = ReadManifest(cfg_, &types);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0].first, "A:a.jsonl|B:b.jsonl");  // kept as written
}

// Regression: a manifest entry without a TYPE: prefix failed its task for a reader with one
// file type (and validate called the existing file "missing").
TEST(MultiFileEntryTest, OneTypeReadersAcceptABarePath) {
  std::vector<sdk::RecordType> one(1);
  one[0].name = "WARC";
  for (const std::string e :
       {"crawl.warc.gz", "WARC:crawl.warc.gz", "logs/2024-01-01T10:00.warc"}) {
    auto p = SplitMultiFileEntry(e, one);
    ASSERT_TRUE(p.ok()) << e << ": " << p.status().ToString();
    ASSERT_EQ(p->size(), 1u);
    EXPECT_EQ((*p)[0], e.rfind("WARC:", 0) == 0 ? e.substr(5) : e);
  }
  EXPECT_FALSE(SplitMultiFileEntry("CDX:crawl.cdx", one).ok());  // a type name that is wrong
  std::vector<sdk::RecordType> two(2);
  two[0].name = "A";
  two[1].name = "B";
  auto bare = SplitMultiFileEntry("a.txt", two);
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.status().message().find("has no TYPE: prefix"), std::string::npos);
  DatasetConfig cfg;
  cfg.read.location = "/data";
  auto abs = MultiFileEntryPaths(cfg, "./sub/crawl.warc.gz", one);
  ASSERT_TRUE(abs.ok()) << abs.status().ToString();
  EXPECT_EQ((*abs)[0], "/data/sub/crawl.warc.gz");
}

TEST(AdoptStoredSpellingsTest, EntriesTakeTheSpellingOfTheTaskForTheSameFile) {
  auto task = [](const std::string& entry, const std::string& path) {
    TaskRow t;
    t.entry = entry;
    t.path = path;
    return t;
  };
  // "./a.jsonl" from an old store; the project folder moved since (/old -> /new), so only the
  // normal form matches. "/x/c.jsonl" is the same file as the old absolute spelling.
  const std::vector<TaskRow> tasks = {task("./a.jsonl", "/old/a.jsonl"),
                                      task("b.jsonl", "/new/b.jsonl"),
                                      task("/x/./c.jsonl", "/x/c.jsonl")};
  std::vector<std::pair<std::string, std::string>> entries = {{"a.jsonl", "/new/a.jsonl"},
                                                              {"b.jsonl", "/new/b.jsonl"},
                                                              {"/x/c.jsonl", "/x/c.jsonl"},
                                                              {"d.jsonl", "/new/d.jsonl"}};
  AdoptStoredSpellings(entries, tasks, true);
  EXPECT_EQ(entries[0].first, "./a.jsonl");
  EXPECT_EQ(entries[0].second, "/new/a.jsonl");  // the path is the manifest's
  EXPECT_EQ(entries[1].first, "b.jsonl");
  EXPECT_EQ(entries[2].first, "/x/./c.jsonl");
  EXPECT_EQ(entries[3].first, "d.jsonl");
}

// Stores made before entries were normalised hold the task under "./a.jsonl"; reading the same
// manifest now gives "a.jsonl" with the same path, which must not become a second task.
TEST(ManifestStoreTest, OldStoreWithUnnormalisedEntryGetsNoSecondTask) {
  const auto dir =
      stdfs::temp_directory_path() / ("weir-manifest-store-" + std::to_string(::getpid()));
  stdfs::remove_all(dir);
  stdfs::create_directories(dir);
  const std::string db = (dir / "store.db").string();
  {
    auto store = Store::Open(db);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->EnsureTasks("ds", {{"b.jsonl", "/x/b.jsonl"}}).ok());
  }
  {
    // The old-style row, as a previous version wrote it.
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(
            h, "INSERT INTO tasks(dataset, entry, path) VALUES ('ds', './a.jsonl', '/x/a.jsonl')",
            nullptr, nullptr, nullptr),
        SQLITE_OK)
        << sqlite3_errmsg(h);
    sqlite3_close(h);
  }
  auto store = Store::Open(db);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)
                  ->EnsureTasks("ds", {{"a.jsonl", "/x/a.jsonl"},
                                       {"b.jsonl", "/x/b.jsonl"},
                                       {"c.jsonl", "/x/c.jsonl"}})
                  .ok());
  auto tasks = (*store)->Tasks("ds");
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 3u);
  EXPECT_EQ((*tasks)[1].entry, "./a.jsonl");
  EXPECT_EQ((*tasks)[2].entry, "c.jsonl");
  // Other datasets are independent.
  ASSERT_TRUE((*store)->EnsureTasks("other", {{"a.jsonl", "/x/a.jsonl"}}).ok());
  EXPECT_EQ((*store)->Tasks("other")->size(), 1u);
  stdfs::remove_all(dir);
}

}  // namespace
}  // namespace weir
