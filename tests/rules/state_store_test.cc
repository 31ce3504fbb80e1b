// The rules' RocksDB state: checkpoints numbered with the derived table's commits, undone when
// the store commit did not happen, and refused when they belong to another table.
#include "rules/state_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

namespace weir::rules {
namespace {

std::string Dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() /
           ("weir-state-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  return d.string();
}

std::map<std::string, std::string> Contents(const StateStore& s) {
  std::map<std::string, std::string> m;
  EXPECT_TRUE(s.ForEach([&](std::string_view k, std::string_view v) {
                 m.emplace(std::string(k), std::string(v));
                 return Status::OK();
               }).ok());
  return m;
}

TEST(RulesStateStoreTest, ACheckpointWhoseCommitDidNotHappenIsUndoneOnOpen) {
  const std::string dir = Dir("undo");
  {
    auto s = StateStore::Open(dir, 0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE((*s)->Checkpoint({{"a", "1"}, {"b", "2"}}, 1).ok());
    // Checkpoint 2 changes a, deletes b, adds c; its store commit never happens (a crash).
    ASSERT_TRUE((*s)->Checkpoint({{"a", "10"}, {"b", std::nullopt}, {"c", "3"}}, 2).ok());
    EXPECT_EQ(Contents(**s), (std::map<std::string, std::string>{{"a", "10"}, {"c", "3"}}));
  }
  auto s = StateStore::Open(dir, 1);  // the derived table's last commit is 1
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->seq(), 1);
  EXPECT_EQ(Contents(**s), (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  // And on from there.
  ASSERT_TRUE((*s)->Checkpoint({{"d", "4"}}, 2).ok());
  s->reset();
  auto again = StateStore::Open(dir, 2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Contents(**again).size(), 3u);
}

TEST(RulesStateStoreTest, AFailedCommitIsUndoneInProcess) {
  const std::string dir = Dir("inproc");
  auto s = StateStore::Open(dir, 0);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Checkpoint({{"k", "old"}}, 1).ok());
  ASSERT_TRUE((*s)->Checkpoint({{"k", "new"}}, 2).ok());
  ASSERT_TRUE((*s)->Undo(2).ok());
  EXPECT_EQ((*s)->seq(), 1);
  EXPECT_EQ(Contents(**s).at("k"), "old");
}

TEST(RulesStateStoreTest, StateThatDoesNotBelongToTheTableIsRefusedWithWhatToDo) {
  const std::string dir = Dir("mismatch");
  {
    auto s = StateStore::Open(dir, 0);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Checkpoint({{"a", "1"}}, 1).ok());
    ASSERT_TRUE((*s)->Checkpoint({{"a", "2"}}, 2).ok());
    ASSERT_TRUE((*s)->Checkpoint({{"a", "3"}}, 3).ok());
  }
  auto s = StateStore::Open(dir, 1);  // two checkpoints ahead: not a crash between two commits
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("is at checkpoint 3 but the derived table's last commit is 1"),
            std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("weir run --restart"), std::string::npos);
}

}  // namespace
}  // namespace weir::rules
