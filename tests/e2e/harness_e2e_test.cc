// The end-to-end harness itself: what a test leaves in the temp folder. Each case runs this
// binary again on one of the DISABLED_ helpers below with TMPDIR pointed at a fresh folder, the
// way ctest runs every test in a process of its own.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "e2e_util.h"

namespace weir::e2e {
namespace {

// Runs this binary's test `name` (a DISABLED_ helper) with TMPDIR = a fresh folder; returns its
// output and the entries it left in that folder.
struct HelperRun {
  CmdResult result;
  std::vector<std::string> left;
};

HelperRun RunHelper(const std::string& name, const std::string& env = "") {
  const std::string tmp = TempDir("harness-" + name);
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  HelperRun run;
  run.result = RunCmd("TMPDIR=" + tmp + " " + env + (env.empty() ? "" : " ") + self +
                      " --gtest_also_run_disabled_tests --gtest_filter=E2EHarness.DISABLED_" +
                      name + " 2>&1");
  for (const auto& e : std::filesystem::directory_iterator(tmp)) {
    run.left.push_back(e.path().filename().string());
  }
  return run;
}

TEST(E2EHarness, DISABLED_PassesAfterMakingATempDir) {
  const std::string d = TempDir("made");
  WriteAll(d + "/file", "data");
  SUCCEED();
}

TEST(E2EHarness, DISABLED_FailsAfterMakingATempDir) {
  const std::string d = TempDir("made");
  WriteAll(d + "/file", "data");
  ADD_FAILURE() << "failing on purpose";
}

TEST(E2EHarness, APassingTestLeavesNothingInTheTempFolder) {
  HelperRun run = RunHelper("PassesAfterMakingATempDir");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.out;
  EXPECT_NE(run.result.out.find("[  PASSED  ] 1 test"), std::string::npos) << run.result.out;
  EXPECT_TRUE(run.left.empty()) << "left " << run.left.front();
}

TEST(E2EHarness, AFailingTestKeepsItsTempFolderAndSaysWhere) {
  HelperRun run = RunHelper("FailsAfterMakingATempDir");
  ASSERT_NE(run.result.exit_code, 0) << run.result.out;
  ASSERT_EQ(run.left.size(), 1u) << run.result.out;
  EXPECT_EQ(run.left[0].rfind("weir-e2e-made-", 0), 0u) << run.left[0];
  EXPECT_NE(run.result.out.find("kept for a look: "), std::string::npos) << run.result.out;
  EXPECT_NE(run.result.out.find(run.left[0]), std::string::npos) << run.result.out;
}

TEST(E2EHarness, KeepTempKeepsAPassingTestsFolder) {
  HelperRun run = RunHelper("PassesAfterMakingATempDir", "WEIR_KEEP_TEMP=1");
  ASSERT_EQ(run.result.exit_code, 0) << run.result.out;
  ASSERT_EQ(run.left.size(), 1u) << run.result.out;
  EXPECT_NE(run.result.out.find("kept for a look: "), std::string::npos) << run.result.out;
}

// The sanitizer tree runs this driver with WEIR_E2E_BUILD_DIR naming its own folder (see
// WEIR_E2E_DRIVER in CMakeLists.txt). Every binary and plugin the tests start must then be that
// tree's, and this tree's otherwise: a path the mapping missed would quietly run uninstrumented
// code in the sanitizer run.
TEST(E2EHarness, TheBinariesRunAreThoseOfTheTreeNamedByWeirE2EBuildDir) {
  const char* named = std::getenv("WEIR_E2E_BUILD_DIR");
  const std::string tree = named != nullptr && *named != '\0' ? named : WEIR_BINARY_DIR;
  const auto started = [] {
    return std::vector<std::string>{WeirBin(), KafkaMockBin(), LogfilePlugin(), WebcrawlPlugin(),
                                    TestPluginDir() + "/libthrowing_plugin.so"};
  };
  const std::vector<std::string> paths = started();
  for (const auto& path : paths) {
    EXPECT_EQ(path.rfind(tree + "/", 0), 0u) << path << " is not under " << tree;
    EXPECT_TRUE(std::filesystem::exists(path)) << path;
  }
  // Another tree named: each path moves into it, with the same name inside the tree.
  const std::string saved = named != nullptr ? named : "";
  ::setenv("WEIR_E2E_BUILD_DIR", "/elsewhere/tree", 1);
  const std::vector<std::string> moved = started();
  if (saved.empty()) ::unsetenv("WEIR_E2E_BUILD_DIR"); else ::setenv("WEIR_E2E_BUILD_DIR", saved.c_str(), 1);
  for (size_t i = 0; i < paths.size(); ++i) {
    EXPECT_EQ(moved[i], "/elsewhere/tree" + paths[i].substr(tree.size())) << paths[i];
  }
}

}  // namespace
}  // namespace weir::e2e
