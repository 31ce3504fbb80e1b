// `weir serve --catalog`: the real binary serving a store's Iceberg tables, read by the npm REST
// catalog client `iceberg-js` (tests/e2e/iceberg_js_catalog.mjs) and, for the exact error bodies,
// by cpp-httplib's client. The tables are made with weir's Iceberg library and registered in the
// store as a commit does (tests/server/iceberg_fixture.h).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "../server/iceberg_fixture.h"
#include "clickstream_util.h"
#include "e2e_util.h"

namespace weir::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string NodeModules() { return WEIR_SOURCE_DIR "/third_party/node/node_modules"; }

bool HaveIcebergJs() {
  return fs::exists(NodeModules() + "/iceberg-js/dist/index.mjs") &&
         std::system("node --version >/dev/null 2>&1") == 0;
}

// `weir serve` as a child process on a free loopback port; stdout and stderr go to `log_path`.
// The destructor stops it (SIGTERM, then SIGKILL after ~5 s). Thread-safety: none.
class WeirServe {
 public:
  ~WeirServe() { Stop(); }
  bool Start(const std::vector<std::string>& args, const std::string& log_path) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = FreeLoopbackPort();
      std::vector<std::string> argv = {WeirBin(), "serve"};
      argv.insert(argv.end(), args.begin(), args.end());
      argv.push_back("--listen");
      argv.push_back("127.0.0.1:" + std::to_string(port_));
      pid_ = SpawnLogged(argv, log_path);
      if (pid_ <= 0) return false;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (std::chrono::steady_clock::now() < deadline && Running()) {
        httplib::Client probe("127.0.0.1", port_);
        probe.set_connection_timeout(1);
        if (probe.Get("/v1/config")) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      Stop();  // port taken meanwhile, or it never answered: try another
    }
    return false;
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Sends `sig` and waits up to `seconds` for the exit; the exit status, or -1 when it did not end.
  int SignalAndWait(int sig, double seconds) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<int>(seconds * 1000));
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  void Stop() {
    if (pid_ <= 0) return;
    if (SignalAndWait(SIGTERM, 5) == -1 && pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  pid_t pid_ = -1;
  int port_ = -1;
};

// A dataset folder whose store holds two tables in "default" (events with two snapshots).
struct Project {
  std::string dir, yaml, store_path;
  fixture::FixtureTable events;
};

Project MakeProject(const std::string& name) {
  Project p;
  p.dir = TempDir(name);
  p.yaml = p.dir + "/dataset.yaml";
  WriteAll(p.yaml,
           "name: events\n"
           "read: {connector: files, location: in, manifest: in/manifest.txt, parser: jsonl}\n"
           "write:\n"
           "  connector: lake\n"
           "  location: lake\n"
           "  table: events\n"
           "  columns:\n"
           "    id: {path: /id, type: int64}\n");
  p.store_path = p.dir + "/.weir/store.db";
  auto store = Store::Open(p.store_path, p.dir);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return p;
  auto events = fixture::MakeIcebergTable(**store, "default", "events", p.dir + "/lake", 2);
  EXPECT_TRUE(events.ok()) << events.status().ToString();
  if (events.ok()) p.events = *events;
  EXPECT_TRUE(fixture::MakeIcebergTable(**store, "default", "clicks", p.dir + "/lake", 1).ok());
  return p;
}

json ReadWithIcebergJs(const std::string& url, const std::string& token,
                       const std::string& table = "events") {
  const std::string cmd = "node " WEIR_SOURCE_DIR "/tests/e2e/iceberg_js_catalog.mjs '" +
                          NodeModules() + "' '" + url + "' '" + token + "' default " + table;
  CmdResult r = RunCmd(cmd);
  EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.out;
  if (r.exit_code != 0) return json::object();
  return json::parse(r.out);
}

TEST(RestCatalogE2E, IcebergJsReadsNamespacesTablesAndTheExactMetadata) {
  if (!HaveIcebergJs()) {
    FAIL() << "node or the npm package iceberg-js is missing: run scripts/install-deps.sh";
  }
  Project p = MakeProject("rest-catalog-js");
  WeirServe serve;
  const std::string log = p.dir + "/serve.log";
  ASSERT_TRUE(serve.Start({"--catalog", p.yaml, "--token", "t0ken"}, log)) << ReadAll(log);

  json out = ReadWithIcebergJs(serve.url(), "t0ken");
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out["namespaces"], json::parse(R"([["default"]])"));
  EXPECT_EQ(out["namespaceProperties"], json::object());
  EXPECT_EQ(out["namespaceExists"], true);
  EXPECT_EQ(out["missingNamespaceExists"], false);
  EXPECT_EQ(out["tables"], json::parse(R"([{"namespace":["default"],"name":"clicks"},
                                           {"namespace":["default"],"name":"events"}])"));
  EXPECT_EQ(out["tableExists"], true);
  EXPECT_EQ(out["missingTableExists"], false);

  // Load table: the store's pointer exactly, and the metadata file it names.
  auto store = Store::Open(p.store_path);
  ASSERT_TRUE(store.ok());
  auto row = (*store)->IcebergTable("default", "events");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ(out["load"]["metadataLocation"], (*row)->metadata_location);
  EXPECT_EQ(out["load"]["metadataLocation"], p.events.metadata_location);
  const json file = json::parse(ReadAll(p.events.metadata_location));
  const int64_t snapshot_id = *p.events.metadata.current_snapshot_id;
  // What iceberg-js parsed: JavaScript numbers are doubles, so the 63-bit snapshot ids arrive
  // rounded (the client's limit); everything else is exact.
  const json& metadata = out["load"]["metadata"];
  EXPECT_EQ(metadata["current-snapshot-id"].get<double>(), static_cast<double>(snapshot_id));
  EXPECT_EQ(metadata["current-schema-id"], file["current-schema-id"]);
  EXPECT_EQ(metadata["schemas"], file["schemas"]);
  ASSERT_EQ(metadata["schemas"].size(), 1u);
  EXPECT_EQ(metadata["schemas"][0]["fields"][0]["name"], "id");
  EXPECT_EQ(metadata["schemas"][0]["fields"][2]["type"], "timestamptz");
  EXPECT_EQ(metadata["partition-specs"], file["partition-specs"]);
  EXPECT_EQ(metadata["table-uuid"], file["table-uuid"]);
  EXPECT_EQ(metadata["snapshots"].size(), 2u);
  // The response iceberg-js received, on the wire: the metadata file's object exactly.
  const json raw = json::parse(out["load"]["raw"].get<std::string>());
  EXPECT_EQ(raw["metadata-location"], p.events.metadata_location);
  EXPECT_EQ(raw["metadata"]["current-snapshot-id"], snapshot_id);
  EXPECT_EQ(raw["metadata"], file);

  // Errors as the client surfaces them.
  EXPECT_EQ(out["missingTable"]["status"], 404);
  EXPECT_EQ(out["missingTable"]["type"], "NoSuchTableException");
  EXPECT_EQ(out["createNamespace"]["status"], 405);
  EXPECT_NE(out["createNamespace"]["message"].get<std::string>().find("read-only"),
            std::string::npos);
  EXPECT_EQ(out["dropTable"]["status"], 405);
  EXPECT_EQ(out["anonymous"]["status"], 401);
  EXPECT_EQ(out["anonymous"]["type"], "NotAuthorizedException");

  EXPECT_EQ(serve.SignalAndWait(SIGTERM, 10), 0);
  const std::string text = ReadAll(log);
  EXPECT_NE(text.find("Iceberg REST catalog of store " + p.store_path), std::string::npos) << text;
  EXPECT_NE(text.find("stopped by SIGTERM"), std::string::npos) << text;
  EXPECT_NE(text.find(" GET /v1/namespaces/default/tables/events 200 "), std::string::npos) << text;
  fs::remove_all(p.dir);
}

// The store's pointer for default.<table>, read with Python's sqlite3 module: not through weir.
std::string StorePointer(const std::string& store_path, const std::string& table) {
  CmdResult r = RunCmd(
      "/usr/bin/python3 -c \"import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
      "print(c.execute('SELECT metadata_location FROM iceberg_tables WHERE "
      "catalog_name=\\'weir\\' AND table_namespace=\\'default\\' AND "
      "table_name=?', (sys.argv[2],)).fetchone()[0])\" '" +
      store_path + "' '" + table + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::string s = r.out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// The whole path: `weir run` commits Iceberg snapshots, `weir serve` serves them, iceberg-js reads
// them; a second run while the server is up is visible to the next load.
TEST(RestCatalogE2E, IcebergJsReadsWhatWeirRunCommittedAndSeesTheNextRun) {
  if (!HaveIcebergJs()) {
    FAIL() << "node or the npm package iceberg-js is missing: run scripts/install-deps.sh";
  }
  const std::string dir = TempDir("rest-catalog-run");
  auto rep = Generate(dir, 3000, 3, 7);
  // The first run sees two of the three input files; the second run the third one too.
  const std::string full_manifest = ReadAll(dir + "/data/manifest.txt");
  std::string first_manifest;
  int files = 0;
  for (size_t pos = 0; pos < full_manifest.size();) {
    const size_t nl = full_manifest.find('\n', pos);
    const std::string line = full_manifest.substr(pos, nl - pos);
    if (line.empty() || line[0] == '#' || ++files <= 2) first_manifest += line + "\n";
    pos = nl == std::string::npos ? full_manifest.size() : nl + 1;
  }
  WriteAll(dir + "/data/manifest.txt", first_manifest);
  WriteAll(dir + "/dataset.yaml", ClickstreamYaml("  roll_records: 600\n"));
  auto run1 = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(run1["_exit"], 0) << run1.dump();

  WeirServe serve;
  const std::string log = dir + "/serve.log";
  ASSERT_TRUE(serve.Start({"--catalog", dir + "/dataset.yaml"}, log)) << ReadAll(log);
  const std::string store_path = dir + "/.weir/store.db";

  json first = ReadWithIcebergJs(serve.url(), "");
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first["namespaces"], json::parse(R"([["default"]])"));
  EXPECT_EQ(first["tables"], json::parse(R"([{"namespace":["default"],"name":"events"}])"));
  const std::string pointer1 = StorePointer(store_path, "events");
  EXPECT_EQ(first["load"]["metadataLocation"], pointer1);
  const json raw1 = json::parse(first["load"]["raw"].get<std::string>());
  const json file1 = json::parse(ReadAll(pointer1));
  EXPECT_EQ(raw1["metadata"], file1);
  EXPECT_EQ(first["load"]["metadata"]["schemas"], file1["schemas"]);
  EXPECT_EQ(first["load"]["metadata"]["current-snapshot-id"].get<double>(),
            file1["current-snapshot-id"].get<double>());
  std::set<std::string> names;
  for (const auto& f : file1["schemas"].back()["fields"]) names.insert(f["name"]);
  EXPECT_TRUE(names.count("id") && names.count("created_at") && names.count("event_type"));
  ASSERT_GE(file1["snapshots"].size(), 2u);
  const uint64_t rows1 =
      std::stoull(file1["snapshots"].back()["summary"]["total-records"].get<std::string>());
  EXPECT_GT(rows1, 0u);
  EXPECT_LT(rows1, rep.totals.valid);

  // A second run while the catalog is served: the next load follows the moved pointer.
  WriteAll(dir + "/data/manifest.txt", full_manifest);
  auto run2 = RunJson(dir + "/dataset.yaml");
  ASSERT_EQ(run2["_exit"], 0) << run2.dump();
  json second = ReadWithIcebergJs(serve.url(), "");
  ASSERT_FALSE(second.empty());
  const std::string pointer2 = StorePointer(store_path, "events");
  EXPECT_NE(pointer2, pointer1);
  EXPECT_EQ(second["load"]["metadataLocation"], pointer2);
  const json raw2 = json::parse(second["load"]["raw"].get<std::string>());
  EXPECT_EQ(raw2["metadata"], json::parse(ReadAll(pointer2)));
  EXPECT_EQ(raw2["metadata"]["snapshots"].back()["summary"]["total-records"],
            std::to_string(rep.totals.valid));
  EXPECT_EQ(serve.SignalAndWait(SIGTERM, 10), 0);
  fs::remove_all(dir);
}

// The error bodies exactly, through a plain HTTP client (no catalog library in between).
TEST(RestCatalogE2E, ErrorBodiesAre404NoSuchTable401And405InTheSpecsShape) {
  Project p = MakeProject("rest-catalog-errors");
  WeirServe serve;
  const std::string log = p.dir + "/serve.log";
  // The store file itself is accepted as well as the dataset YAML.
  ASSERT_TRUE(serve.Start({"--catalog", p.store_path, "--token", "t0ken"}, log)) << ReadAll(log);
  httplib::Client c("127.0.0.1", serve.port());
  const httplib::Headers auth = {{"Authorization", "Bearer t0ken"}};

  auto missing = c.Get("/v1/namespaces/default/tables/nope", auth);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(
      json::parse(missing->body),
      json::parse(
          R"x({"error":{"message":"table default.nope does not exist in this catalog (a weir dataset's table appears after its first commit; GET /v1/namespaces/default/tables lists the tables)","type":"NoSuchTableException","code":404}})x"));

  auto no_ns = c.Get("/v1/namespaces/nope/tables", auth);
  ASSERT_TRUE(no_ns);
  EXPECT_EQ(no_ns->status, 404);
  EXPECT_EQ(json::parse(no_ns->body)["error"]["type"], "NoSuchNamespaceException");

  auto anonymous = c.Get("/v1/namespaces");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(anonymous->get_header_value("WWW-Authenticate"), "Bearer realm=\"weir\"");
  const json a = json::parse(anonymous->body);
  EXPECT_EQ(a["error"]["type"], "NotAuthorizedException");
  EXPECT_EQ(a["error"]["code"], 401);

  auto wrong = c.Get("/v1/config", {{"Authorization", "Bearer guess"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);

  auto create = c.Post("/v1/namespaces", auth, R"({"namespace":["x"]})", "application/json");
  ASSERT_TRUE(create);
  EXPECT_EQ(create->status, 405);
  const json w = json::parse(create->body);
  EXPECT_EQ(w["error"]["type"], "UnsupportedOperationException");
  EXPECT_EQ(w["error"]["code"], 405);
  EXPECT_EQ(w["error"]["message"].get<std::string>().rfind(
                "POST /v1/namespaces is refused: weir's Iceberg catalog is read-only", 0),
            0u);

  // The same keep-alive connection still answers correctly after the refused POST's body.
  auto load = c.Get("/v1/namespaces/default/tables/events", auth);
  ASSERT_TRUE(load);
  EXPECT_EQ(load->status, 200);
  EXPECT_EQ(json::parse(load->body)["metadata-location"], p.events.metadata_location);
  auto head = c.Head("/v1/namespaces/default/tables/events", auth);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 204);

  EXPECT_EQ(serve.SignalAndWait(SIGINT, 10), 0);
  // One log line per request, the refused ones included.
  const std::string text = ReadAll(log);
  EXPECT_NE(text.find(" GET /v1/namespaces 401 "), std::string::npos) << text;
  EXPECT_NE(text.find(" POST /v1/namespaces 405 "), std::string::npos) << text;
  EXPECT_NE(text.find(" HEAD /v1/namespaces/default/tables/events 204 "), std::string::npos)
      << text;
  fs::remove_all(p.dir);
}

TEST(RestCatalogE2E, RefusesBadArgumentsWithoutCreatingAStore) {
  const std::string dir = TempDir("rest-catalog-args");
  CmdResult missing = Weir("serve --catalog " + dir + "/nope.yaml 2>&1");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.out.find("--catalog " + dir + "/nope.yaml: no such file"), std::string::npos)
      << missing.out;
  EXPECT_FALSE(fs::exists(dir + "/nope.yaml"));
  Project p = MakeProject("rest-catalog-args2");
  CmdResult listen = Weir("serve --catalog " + p.yaml + " --listen 8181 2>&1");
  EXPECT_EQ(listen.exit_code, 2);
  EXPECT_NE(listen.out.find("--listen '8181' is not HOST:PORT"), std::string::npos) << listen.out;

  // A port already taken is reported with what to do.
  WeirServe first;
  ASSERT_TRUE(first.Start({"--catalog", p.yaml}, p.dir + "/first.log"));
  CmdResult taken = Weir("serve --catalog " + p.yaml +
                         " --listen 127.0.0.1:" + std::to_string(first.port()) + " 2>&1");
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_NE(taken.out.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())),
            std::string::npos)
      << taken.out;
  fs::remove_all(dir);
  fs::remove_all(p.dir);
}

}  // namespace
}  // namespace weir::e2e
