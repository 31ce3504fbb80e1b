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

TEST(RulesStateStoreTest, ACheckpointWhoseStoreCommitDidNotHappenIsDroppedOnOpen) {
  const std::string dir = Dir("drop");
  {
    auto s = StateStore::Open(dir, 0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE((*s)->Prepare({{"a", "1"}, {"b", "2"}}, 1).ok());
    ASSERT_TRUE((*s)->Apply(1).ok());
    // Checkpoint 2 changes a, deletes b, adds c; its store commit never happens (a crash).
    ASSERT_TRUE((*s)->Prepare({{"a", "10"}, {"b", std::nullopt}, {"c", "3"}}, 2).ok());
  }
  auto s = StateStore::Open(dir, 1);  // the derived table's last commit is 1
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->seq(), 1);
  EXPECT_EQ(Contents(**s), (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  // And on from there.
  ASSERT_TRUE((*s)->Prepare({{"d", "4"}}, 2).ok());
  ASSERT_TRUE((*s)->Apply(2).ok());
  s->reset();
  auto again = StateStore::Open(dir, 2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Contents(**again).size(), 3u);
}

TEST(RulesStateStoreTest, ACheckpointCommittedButNotAppliedIsAppliedOnOpen) {
  const std::string dir = Dir("redo");
  {
    auto s = StateStore::Open(dir, 0);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->Prepare({{"a", "1"}, {"b", "2"}}, 1).ok());
    ASSERT_TRUE((*s)->Apply(1).ok());
    ASSERT_TRUE((*s)->Prepare({{"a", "10"}, {"b", std::nullopt}, {"c", "3"}}, 2).ok());
    // The store committed 2; the process died before Apply.
  }
  auto s = StateStore::Open(dir, 2);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->seq(), 2);
  EXPECT_EQ(Contents(**s), (std::map<std::string, std::string>{{"a", "10"}, {"c", "3"}}));
}

TEST(RulesStateStoreTest, AFailedCommitIsDiscardedInProcess) {
  const std::string dir = Dir("inproc");
  auto s = StateStore::Open(dir, 0);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Prepare({{"k", "old"}}, 1).ok());
  ASSERT_TRUE((*s)->Apply(1).ok());
  ASSERT_TRUE((*s)->Prepare({{"k", "new"}}, 2).ok());
  ASSERT_TRUE((*s)->Discard(2).ok());
  EXPECT_EQ((*s)->seq(), 1);
  EXPECT_EQ(Contents(**s).at("k"), "old");
  s->reset();
  auto again = StateStore::Open(dir, 1);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Contents(**again).at("k"), "old");
}

TEST(RulesStateStoreTest, StateThatDoesNotBelongToTheTableIsRefusedWithWhatToDo) {
  const std::string dir = Dir("mismatch");
  {
    auto s = StateStore::Open(dir, 0);
    ASSERT_TRUE(s.ok());
    for (int i = 1; i <= 3; ++i) {
      ASSERT_TRUE((*s)->Prepare({{"a", std::to_string(i)}}, i).ok());
      ASSERT_TRUE((*s)->Apply(i).ok());
    }
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
