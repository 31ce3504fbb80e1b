// s3rver (npm, installed by scripts/install-deps.sh into third_party/node) as a test's S3 server
// on a free loopback port, with one bucket; credentials S3RVER / S3RVER. It runs through
// scripts/s3rver.js, which makes s3rver's writes read-after-write consistent as S3's are.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "process_util.h"

namespace weir::e2e {

inline constexpr char kS3rverKey[] = "S3RVER";

class S3rver : public LoopbackService {
 public:
  // Serves `bucket` from `dir` (created). False when node or s3rver is missing or it did not
  // come up; its output goes to `dir`/s3rver.log. `write_delay_ms` > 0 holds the first write of
  // each object or part back that long: a slow disk, for the test of that consistency.
  bool Start(const std::string& dir, const std::string& bucket, int write_delay_ms = 0) {
    const std::string script = WEIR_SOURCE_DIR "/scripts/s3rver.js";
    if (!std::filesystem::exists(script) ||
        !std::filesystem::exists(WEIR_SOURCE_DIR "/third_party/node/node_modules/s3rver")) {
      return false;
    }
    std::filesystem::create_directories(dir + "/data");
    return LoopbackService::Start(
        [&](int port) {
          // s3rver's list continuation tokens use DES, which Node 20's OpenSSL 3 only has in
          // its legacy provider (without it, every truncated listing is a 500).
          return std::vector<std::string>{"env",
                                          "WEIR_S3RVER_WRITE_DELAY_MS=" + std::to_string(write_delay_ms),
                                          "timeout", "-k", "5", "900", "node",
                                          "--openssl-legacy-provider", script, "-d", dir + "/data",
                                          "-a", "127.0.0.1", "-p", std::to_string(port), "--silent",
                                          "--configure-bucket", bucket};
        },
        dir + "/s3rver.log");
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port()); }
  // The environment prefix for a `weir` command line that reads from this server.
  static std::string CredentialsEnv() {
    return std::string("AWS_ACCESS_KEY_ID=") + kS3rverKey + " AWS_SECRET_ACCESS_KEY=" + kS3rverKey;
  }
};

}  // namespace weir::e2e
