// The HTTP collector: how request bodies are split and checked (pure), and what a POST does to a
// real segment log (answers, durability, token, backlog limit), through HttpServer::Handle so the
// router and the error rendering are the real ones.
#include "server/collector.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/segment_log.h"

namespace weir::server {
namespace {

namespace stdfs = std::filesystem;

std::string LogText(const SegmentLog& log) {
  std::string out;
  for (const auto& seg : log.Segments()) {
    std::ifstream in(seg.path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    out += s.str().substr(0, seg.durable);
  }
  return out;
}

TEST(CollectorBody, JsonLinesKeepEachLineAndListTheMalformedOnes) {
  CollectorBody b = ParseCollectorBody("{\"a\":1}\r\n\n  \n{\"a\":\n[1]\n{\"b\":2}");
  EXPECT_TRUE(b.refused.empty());
  EXPECT_FALSE(b.array);
  EXPECT_EQ(b.accepted, 2u);
  // Blank lines are dropped, CR removed, every other line stored (malformed ones become error
  // records), and a missing last newline added.
  EXPECT_EQ(b.lines, "{\"a\":1}\n{\"a\":\n[1]\n{\"b\":2}\n");
  ASSERT_EQ(b.errors.size(), 2u);
  EXPECT_EQ(b.errors[0].first, 4u);
  EXPECT_NE(b.errors[0].second.find("not valid JSON"), std::string::npos) << b.errors[0].second;
  EXPECT_EQ(b.errors[1].first, 5u);
  EXPECT_NE(b.errors[1].second.find("not a JSON object"), std::string::npos);
}

TEST(CollectorBody, AnArrayBecomesOneMinifiedLinePerElement) {
  CollectorBody b = ParseCollectorBody(" [ {\"a\": 1, \"s\": \"x y\"},\n 7, {\"b\": [1, 2]} ] ");
  EXPECT_TRUE(b.refused.empty()) << b.refused;
  EXPECT_TRUE(b.array);
  EXPECT_EQ(b.accepted, 2u);
  EXPECT_EQ(b.lines, "{\"a\":1,\"s\":\"x y\"}\n7\n{\"b\":[1,2]}\n");
  ASSERT_EQ(b.errors.size(), 1u);
  EXPECT_EQ(b.errors[0].first, 1u);  // element index
}

TEST(CollectorBody, BodiesWithoutAValidRecordAreRefusedWhole) {
  EXPECT_NE(ParseCollectorBody("").refused.find("empty body"), std::string::npos);
  EXPECT_NE(ParseCollectorBody(" \n\r\n").refused.find("empty body"), std::string::npos);
  EXPECT_NE(ParseCollectorBody("[]").refused.find("empty JSON array"), std::string::npos);
  CollectorBody broken_array = ParseCollectorBody("[{\"a\":1},");
  EXPECT_NE(broken_array.refused.find("not a JSON array"), std::string::npos);
  EXPECT_TRUE(broken_array.lines.empty());
  CollectorBody garbage = ParseCollectorBody("hello\nworld\n");
  EXPECT_NE(garbage.refused.find("no valid record in the body; line 1: not valid JSON"),
            std::string::npos)
      << garbage.refused;
  EXPECT_TRUE(garbage.lines.empty());
  EXPECT_EQ(garbage.accepted, 0u);
  // Invalid UTF-8 inside a string is not valid JSON.
  EXPECT_FALSE(ParseCollectorBody("{\"a\":\"\xff\"}").refused.empty());
}

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "weir-collector-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    stdfs::remove_all(dir_);
    auto log = SegmentLog::Open({dir_});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  // A server around a collector with `options`, used without a network.
  net::HttpResponse Send(const CollectorOptions& options, const std::string& method,
                         const std::string& path, const std::string& body,
                         const std::string& auth = "") {
    if (!collector_) {
      collector_ = std::make_unique<Collector>(*log_, options, metrics_);
      net::Router router;
      collector_->AddRoutes(router);
      net::HttpServerOptions so;
      so.render_error = [](int status, const std::string& m) { return Collector::Error(status, m); };
      server_ = std::make_unique<net::HttpServer>(std::move(router), std::move(so));
    }
    net::HttpRequest req;
    req.method = method;
    req.target = req.path = path;
    req.body = body;
    if (!auth.empty()) req.headers["authorization"] = auth;
    return server_->Handle(req);
  }

  std::string dir_;
  std::unique_ptr<SegmentLog> log_;
  StreamMetrics metrics_;
  std::unique_ptr<Collector> collector_;
  std::unique_ptr<net::HttpServer> server_;
};

TEST_F(CollectorTest, APostIsDurableInTheLogWhenItIsAnswered) {
  CollectorOptions o;
  auto r = Send(o, "POST", "/v1/events", "{\"id\":1}\n{\"id\":2}\nnope\n");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["accepted"], 2);
  ASSERT_EQ(j["errors"].size(), 1u);
  EXPECT_EQ(j["errors"][0]["line"], 3);
  EXPECT_EQ(LogText(*log_), "{\"id\":1}\n{\"id\":2}\nnope\n");
  EXPECT_EQ(log_->DurableEnd(), 23u);
  r = Send(o, "POST", "/v1/events", "[{\"id\":3}]");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LogText(*log_), "{\"id\":1}\n{\"id\":2}\nnope\n{\"id\":3}\n");
  EXPECT_EQ(metrics_.accepted, 3u);
  EXPECT_EQ(metrics_.malformed, 1u);
  EXPECT_EQ(metrics_.requests, 2u);
}

TEST_F(CollectorTest, RefusedBodiesStoreNothing) {
  CollectorOptions o;
  auto r = Send(o, "POST", "/v1/events", "this is not json\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("line 1"), std::string::npos) << r.body;
  EXPECT_EQ(log_->DurableEnd(), 0u);
  EXPECT_EQ(Send(o, "GET", "/v1/events", "").status, 405);
  EXPECT_EQ(Send(o, "POST", "/v1/other", "{}").status, 404);
  EXPECT_EQ(LogText(*log_), "");
}

TEST_F(CollectorTest, ATokenIsRequiredWhenSet) {
  CollectorOptions o;
  o.token = "s3cret";
  auto r = Send(o, "POST", "/v1/events", "{\"id\":1}\n");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("Authorization: Bearer"), std::string::npos) << r.body;
  EXPECT_EQ(Send(o, "POST", "/v1/events", "{\"id\":1}\n", "Bearer wrong").status, 401);
  EXPECT_EQ(Send(o, "POST", "/v1/events", "{\"id\":1}\n", "Basic czNjcmV0").status, 401);
  EXPECT_EQ(log_->DurableEnd(), 0u);
  EXPECT_EQ(Send(o, "POST", "/v1/events", "{\"id\":1}\n", "bearer s3cret").status, 200);
  EXPECT_EQ(LogText(*log_), "{\"id\":1}\n");
  // Health checks need no token.
  EXPECT_EQ(Send(o, "GET", "/healthz", "").status, 200);
}

TEST_F(CollectorTest, ABacklogOverTheLimitIsAnswered429UntilTheLakeCatchesUp) {
  CollectorOptions o;
  o.max_backlog_bytes = 30;
  const std::string batch = "{\"payload\":\"0123456789\"}\n";  // 25 bytes
  EXPECT_EQ(Send(o, "POST", "/v1/events", batch).status, 200);
  EXPECT_EQ(Send(o, "POST", "/v1/events", batch).status, 200);  // backlog 25 <= 30 when asked
  auto r = Send(o, "POST", "/v1/events", batch);                // backlog 50 > 30
  EXPECT_EQ(r.status, 429) << r.body;
  bool retry_after = false;
  for (const auto& [k, v] : r.headers) retry_after |= k == "Retry-After" && v == "1";
  EXPECT_TRUE(retry_after);
  EXPECT_EQ(log_->DurableEnd(), 50u);
  EXPECT_EQ(metrics_.throttled, 1u);
  // The lake committed through the first batch: back under the limit.
  ASSERT_TRUE(log_->Trim(25).ok());
  EXPECT_EQ(Send(o, "POST", "/v1/events", batch).status, 200);
}

}  // namespace
}  // namespace weir::server
