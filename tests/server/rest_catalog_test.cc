// The Iceberg REST catalog's answers, checked without a network through HttpServer::Handle (the
// function the transport calls for every request) over a real store holding tables made with
// weir's Iceberg library (iceberg_fixture.h).
#include "server/rest_catalog.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "iceberg_fixture.h"

namespace weir::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class RestCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weir-rest-catalog-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto s = Store::Open((dir_ / "store.db").string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    auto events = fixture::MakeIcebergTable(*store_, "default", "events", dir_.string(), 2);
    ASSERT_TRUE(events.ok()) << events.status().ToString();
    events_ = *events;
    ASSERT_TRUE(fixture::MakeIcebergTable(*store_, "default", "clicks", dir_.string(), 1).ok());
    ASSERT_TRUE(fixture::MakeIcebergTable(*store_, "a.b", "deep", dir_.string(), 1).ok());
    Rebuild("");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Rebuild(const std::string& token) {
    catalog_ = std::make_unique<RestCatalog>(*store_, RestCatalogOptions{token});
    net::Router router;
    catalog_->AddRoutes(router);
    net::HttpServerOptions options;
    catalog_->Configure(options);
    options.log = [](const std::string&) {};
    server_ = std::make_unique<net::HttpServer>(std::move(router), options);
  }

  net::HttpResponse Send(const std::string& method, const std::string& target,
                         std::map<std::string, std::string> headers = {}) {
    net::HttpRequest req;
    req.method = method;
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      const std::string query = target.substr(q + 1);
      const size_t eq = query.find('=');
      req.query[query.substr(0, eq)] = *net::PercentDecode(query.substr(eq + 1));
    }
    req.headers = std::move(headers);
    return server_->Handle(req);
  }

  // Checks the spec's error shape exactly and returns the message.
  static std::string ErrorMessage(const net::HttpResponse& r, int status, const std::string& type) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    json j = json::parse(r.body);
    EXPECT_EQ(j.size(), 1u) << r.body;
    EXPECT_EQ(j["error"].size(), 3u) << r.body;
    EXPECT_EQ(j["error"]["type"], type) << r.body;
    EXPECT_EQ(j["error"]["code"], status) << r.body;
    return j["error"]["message"].get<std::string>();
  }

  static std::string Header(const net::HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
  fixture::FixtureTable events_;
  std::unique_ptr<RestCatalog> catalog_;
  std::unique_ptr<net::HttpServer> server_;
};

TEST_F(RestCatalogTest, ConfigHasDefaultsOverridesAndTheReadEndpoints) {
  auto r = Send("GET", "/v1/config?warehouse=anything");
  ASSERT_EQ(r.status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["defaults"], json::object());
  EXPECT_EQ(j["overrides"], json::object());
  const auto& e = j["endpoints"];
  auto has = [&](const std::string& s) { return std::find(e.begin(), e.end(), s) != e.end(); };
  EXPECT_TRUE(has("GET /v1/{prefix}/namespaces/{namespace}/tables/{table}"));
  EXPECT_TRUE(has("HEAD /v1/{prefix}/namespaces/{namespace}"));
  EXPECT_FALSE(has("POST /v1/{prefix}/namespaces"));  // read-only: no write endpoint advertised
}

TEST_F(RestCatalogTest, ListsNamespacesLevelByLevel) {
  auto top = Send("GET", "/v1/namespaces");
  ASSERT_EQ(top.status, 200);
  EXPECT_EQ(json::parse(top.body), json::parse(R"({"namespaces":[["a"],["default"]]})"));
  auto below = Send("GET", "/v1/namespaces?parent=a");
  EXPECT_EQ(json::parse(below.body), json::parse(R"({"namespaces":[["a","b"]]})"));
  auto leaf = Send("GET", "/v1/namespaces?parent=a%1Fb");
  EXPECT_EQ(json::parse(leaf.body), json::parse(R"({"namespaces":[]})"));
  EXPECT_EQ(
      ErrorMessage(Send("GET", "/v1/namespaces?parent=nope"), 404, "NoSuchNamespaceException"),
      "namespace nope does not exist in this catalog");
}

TEST_F(RestCatalogTest, LoadsAndChecksNamespaces) {
  auto r = Send("GET", "/v1/namespaces/default");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"namespace":["default"],"properties":{}})"));
  EXPECT_EQ(json::parse(Send("GET", "/v1/namespaces/a%1Fb").body)["namespace"],
            json::parse(R"(["a","b"])"));
  EXPECT_EQ(Send("HEAD", "/v1/namespaces/default").status, 204);
  EXPECT_EQ(Send("HEAD", "/v1/namespaces/a").status, 204);  // a parent of a.b exists
  EXPECT_EQ(Send("HEAD", "/v1/namespaces/nope").status, 404);
  EXPECT_EQ(ErrorMessage(Send("GET", "/v1/namespaces/nope"), 404, "NoSuchNamespaceException"),
            "namespace nope does not exist in this catalog");
  ErrorMessage(Send("GET", "/v1/namespaces/a%1F"), 400, "BadRequestException");
}

TEST_F(RestCatalogTest, ListsTheTablesOfOneNamespace) {
  auto r = Send("GET", "/v1/namespaces/default/tables");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"identifiers":[
      {"namespace":["default"],"name":"clicks"},{"namespace":["default"],"name":"events"}]})"));
  EXPECT_EQ(json::parse(Send("GET", "/v1/namespaces/a%1Fb/tables").body),
            json::parse(R"({"identifiers":[{"namespace":["a","b"],"name":"deep"}]})"));
  EXPECT_EQ(json::parse(Send("GET", "/v1/namespaces/a/tables").body),
            json::parse(R"({"identifiers":[]})"));
  ErrorMessage(Send("GET", "/v1/namespaces/nope/tables"), 404, "NoSuchNamespaceException");
}

TEST_F(RestCatalogTest, LoadTableReturnsThePointerAndTheMetadataFileAsJson) {
  auto r = Send("GET", "/v1/namespaces/default/tables/events");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["metadata-location"], events_.metadata_location);
  EXPECT_NE(events_.metadata_location.find("/events/metadata/v2.metadata.json"), std::string::npos);
  std::ifstream in(events_.metadata_location);
  EXPECT_EQ(j["metadata"], json::parse(in));  // the file's object, whole
  EXPECT_EQ(j["metadata"]["current-snapshot-id"], *events_.metadata.current_snapshot_id);
  EXPECT_EQ(j["metadata"]["snapshots"].size(), 2u);
  EXPECT_EQ(j["config"], json::object());
  EXPECT_FALSE(Header(r, "ETag").empty());
}

TEST_F(RestCatalogTest, LoadTableFollowsThePointerOnEveryRequestAndAnswers304ForItsETag) {
  auto first = Send("GET", "/v1/namespaces/default/tables/clicks");
  ASSERT_EQ(first.status, 200);
  const std::string etag = Header(first, "ETag");
  auto same = Send("GET", "/v1/namespaces/default/tables/clicks", {{"if-none-match", etag}});
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  // A commit (as a running `weir run` would make) moves the pointer: the next load sees it.
  auto clicks = fixture::MakeIcebergTable(*store_, "default", "clicks2", dir_.string(), 1);
  ASSERT_TRUE(clicks.ok());
  const std::string old_location = json::parse(first.body)["metadata-location"];
  ASSERT_TRUE(
      store_->MoveIcebergPointer({"default", "clicks", old_location, clicks->metadata_location})
          .ok());
  auto moved = Send("GET", "/v1/namespaces/default/tables/clicks", {{"if-none-match", etag}});
  EXPECT_EQ(moved.status, 200);
  EXPECT_EQ(json::parse(moved.body)["metadata-location"], clicks->metadata_location);
  EXPECT_NE(Header(moved, "ETag"), etag);
}

// Invariant 3 for catalog readers: while commits move the pointer, every load answers one
// committed version whole (the metadata files are complete before the pointer names them).
TEST_F(RestCatalogTest, LoadsDuringCommitsAlwaysAnswerOneCommittedVersionWhole) {
  std::atomic<bool> done{false};
  Status writer_status;
  std::thread writer([&] {
    for (int i = 0; i < 15 && writer_status.ok(); ++i) {
      writer_status = fixture::AppendSnapshot(*store_, "default", "events", events_);
    }
    done = true;
  });
  int loads = 0;
  std::set<std::string> seen;
  while (!done || loads < 5) {
    auto r = Send("GET", "/v1/namespaces/default/tables/events");
    ASSERT_EQ(r.status, 200) << r.body;
    json j = json::parse(r.body);
    const std::string location = j["metadata-location"];
    std::ifstream in(location);
    ASSERT_EQ(j["metadata"], json::parse(in)) << location;
    // vN holds exactly N snapshots: the answer is that version, not a mix.
    const size_t v = std::stoul(location.substr(location.rfind("/v") + 2));
    EXPECT_EQ(j["metadata"]["snapshots"].size(), v) << location;
    seen.insert(location);
    ++loads;
  }
  writer.join();
  ASSERT_TRUE(writer_status.ok()) << writer_status.ToString();
  EXPECT_GE(seen.size(), 2u);  // the loads did see commits happen
  EXPECT_EQ(json::parse(Send("GET", "/v1/namespaces/default/tables/events").body)
                ["metadata-location"],
            events_.metadata_location);
}

TEST_F(RestCatalogTest, MissingTablesAre404NoSuchTable) {
  EXPECT_EQ(
      ErrorMessage(Send("GET", "/v1/namespaces/default/tables/nope"), 404, "NoSuchTableException"),
      "table default.nope does not exist in this catalog (a weir dataset's table appears "
      "after its first commit; GET /v1/namespaces/default/tables lists the tables)");
  ErrorMessage(Send("GET", "/v1/namespaces/nope/tables/events"), 404, "NoSuchTableException");
  EXPECT_EQ(Send("HEAD", "/v1/namespaces/default/tables/events").status, 204);
  EXPECT_EQ(Send("HEAD", "/v1/namespaces/default/tables/nope").status, 404);
}

TEST_F(RestCatalogTest, ADamagedMetadataFileIsA500NamingIt) {
  std::ofstream(events_.metadata_location, std::ios::trunc) << "{\"format-version\": 2";
  const std::string msg =
      ErrorMessage(Send("GET", "/v1/namespaces/default/tables/events"), 500, "InternalServerError");
  EXPECT_NE(msg.find("table default.events: its current metadata file is not valid Iceberg"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find(events_.metadata_location), std::string::npos) << msg;
  fs::remove(events_.metadata_location);
  const std::string gone =
      ErrorMessage(Send("GET", "/v1/namespaces/default/tables/events"), 500, "InternalServerError");
  EXPECT_NE(gone.find("cannot read its current metadata file " + events_.metadata_location),
            std::string::npos)
      << gone;
}

TEST_F(RestCatalogTest, WritesAre405SayingTheCatalogIsReadOnly) {
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/v1/namespaces"},
           {"DELETE", "/v1/namespaces/default"},
           {"POST", "/v1/namespaces/default/properties"},
           {"POST", "/v1/namespaces/default/tables"},
           {"POST", "/v1/namespaces/default/tables/events"},
           {"DELETE", "/v1/namespaces/default/tables/events"},
           {"POST", "/v1/namespaces/default/register"},
           {"POST", "/v1/tables/rename"},
           {"POST", "/v1/transactions/commit"}}) {
    const std::string msg = ErrorMessage(Send(method, path), 405, "UnsupportedOperationException");
    EXPECT_EQ(
        msg.rfind(method + " " + path + " is refused: weir's Iceberg catalog is read-only", 0), 0u)
        << msg;
  }
  // A method the spec has no endpoint for: the router's 405, with the same explanation.
  auto put = Send("PUT", "/v1/namespaces/default/tables/events");
  const std::string msg = ErrorMessage(put, 405, "UnsupportedOperationException");
  EXPECT_NE(msg.find("weir's Iceberg catalog is read-only"), std::string::npos) << msg;
  EXPECT_EQ(Header(put, "Allow"), "GET, HEAD, POST, DELETE");
  // Scan reports are accepted and dropped.
  EXPECT_EQ(Send("POST", "/v1/namespaces/default/tables/events/metrics").status, 204);
}

TEST_F(RestCatalogTest, UnknownPathsAre404InTheSpecsFormat) {
  EXPECT_EQ(ErrorMessage(Send("GET", "/v2/config"), 404, "NotFoundException"),
            "no such resource: /v2/config");
  ErrorMessage(Send("GET", "/v1/namespaces/default/views/v"), 404, "NoSuchViewException");
  EXPECT_EQ(json::parse(Send("GET", "/v1/namespaces/default/views").body),
            json::parse(R"({"identifiers":[]})"));
}

TEST_F(RestCatalogTest, WithATokenEveryRequestNeedsIt) {
  Rebuild("s3cret-token");
  auto none = Send("GET", "/v1/config");
  EXPECT_EQ(ErrorMessage(none, 401, "NotAuthorizedException")
                .rfind("this catalog requires a bearer token", 0),
            0u);
  EXPECT_EQ(Header(none, "WWW-Authenticate"), "Bearer realm=\"weir\"");
  auto basic = Send("GET", "/v1/config", {{"authorization", "Basic czNjcmV0"}});
  ErrorMessage(basic, 401, "NotAuthorizedException");
  auto wrong = Send("GET", "/v1/namespaces/default/tables/events",
                    {{"authorization", "Bearer s3cret-tokeN"}});
  EXPECT_EQ(ErrorMessage(wrong, 401, "NotAuthorizedException")
                .rfind("the bearer token is not this catalog's token", 0),
            0u);
  EXPECT_NE(Header(wrong, "WWW-Authenticate").find("invalid_token"), std::string::npos);
  // Unknown paths and writes are refused the same way before anything else.
  ErrorMessage(Send("GET", "/nope"), 401, "NotAuthorizedException");
  ErrorMessage(Send("POST", "/v1/namespaces"), 401, "NotAuthorizedException");
  EXPECT_EQ(Send("GET", "/v1/config", {{"authorization", "Bearer s3cret-token"}}).status, 200);
  EXPECT_EQ(Send("GET", "/v1/config", {{"authorization", "bearer s3cret-token"}}).status, 200);
}

}  // namespace
}  // namespace weir::server
