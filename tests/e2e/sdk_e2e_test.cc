// Datasets read by SDK parsers (plugins and built-ins) through the real binary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e_util.h"

namespace weir::e2e {
namespace {

std::string PluginDataset(const std::string& plugin, const std::string& parser,
                          const std::string& options, const std::string& columns) {
  return "name: sdk\nplugins: [" + plugin + "]\nread:\n  connector: files\n  location: in\n"
         "  manifest: in/manifest.txt\n  parser: " + parser + "\n  options: " + options +
         "\nwrite:\n  connector: lake\n  location: lake\n  table: t\n  columns:\n" + columns;
}

std::vector<nlohmann::json> ErrorRecords(const std::string& yaml) {
  std::vector<nlohmann::json> out;
  std::istringstream in(Weir("errors " + yaml + " --json").out);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(SdkE2E, ExamplePluginDatasetCountsQueriesAndErrorOffsets) {
  std::string dir = TempDir("logfile");
  std::string log =
      "# app log\n"
      "2024-06-01T10:00:00Z INFO  [checkout] user=u42 took=120ms paid\n"
      "2024-06-01T10:00:01Z DEBUG [checkout] user=u42 noise\n"
      "\n"
      "2024-06-01T23:59:59Z WARN  [search] user=u7 took=5ms slow\n"
      "garbage line\n"
      "2024-06-02T00:00:00Z ERROR [payments] user=u1 took=9000ms declined";
  WriteAll(dir + "/in/app.log", log);
  WriteAll(dir + "/in/manifest.txt", "app.log\n");
  WriteAll(dir + "/dataset.yaml",
           PluginDataset(LogfilePlugin(), "plugin:logfile", "{min_level: INFO}",
                         "    ts: {path: /ts, type: timestamp, required: true}\n"
                         "    level: {path: /level, type: string, required: true}\n"
                         "    user: {path: /fields/user, type: string}\n"
                         "    took_ms: {path: /fields/took_ms, type: int64}\n"));
  auto r = Weir("run " + dir + "/dataset.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["totals"]["read"], 7);
  EXPECT_EQ(j["totals"]["written"], 3);
  EXPECT_EQ(j["totals"]["skipped"], 3);  // comment, DEBUG below min_level, blank line
  EXPECT_EQ(j["totals"]["errored"], 1);
  auto q = Weir("query " + dir + "/dataset.yaml \"SELECT level, user, took_ms FROM t ORDER BY ts\" --format csv");
  EXPECT_EQ(q.out, "level,user,took_ms\nINFO,u42,120\nWARN,u7,5\nERROR,u1,9000\n");
  auto errs = ErrorRecords(dir + "/dataset.yaml");
  ASSERT_EQ(errs.size(), 1u);
  uint64_t s = errs[0]["start_offset"], e = errs[0]["end_offset"];
  EXPECT_EQ(log.substr(s, e - s), "garbage line\n");  // kPatterns records include their end pattern
  EXPECT_EQ(errs[0]["record_number"], 5);
}

TEST(SdkE2E, ExceptionsInUserCodeBecomeErrorRecordsNotCrashes) {
  std::string dir = TempDir("thrower");
  WriteAll(dir + "/in/resolved/a.txt", "one\nstd\ntwo\nint\nthree\n");
  WriteAll(dir + "/in/manifest.txt", "a.txt\n");  // the plugin resolves it to resolved/a.txt
  WriteAll(dir + "/dataset.yaml",
           PluginDataset(TestPluginDir() + "/libthrowing_plugin.so", "plugin:thrower",
                         "{}", "    line: {path: /line, type: string, required: true}\n"));
  auto r = Weir("run " + dir + "/dataset.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["totals"]["written"], 3);
  EXPECT_EQ(j["totals"]["errored"], 2);
  auto errs = ErrorRecords(dir + "/dataset.yaml");
  ASSERT_EQ(errs.size(), 2u);
  std::set<std::string> reasons;
  for (const auto& e : errs) reasons.insert(e["reason"].get<std::string>());
  EXPECT_TRUE(reasons.count("parser threw: boom at record 1")) << *reasons.begin();
}

TEST(SdkE2E, BadPluginsAndParserNamesAreClearErrors) {
  std::string dir = TempDir("badplugin");
  WriteAll(dir + "/in/a.txt", "x\n");
  WriteAll(dir + "/in/manifest.txt", "a.txt\n");
  const std::string cols = "    line: {path: /line, type: string}\n";
  WriteAll(dir + "/abi.yaml", PluginDataset(TestPluginDir() + "/libbad_abi_plugin.so",
                                            "plugin:whatever", "{}", cols));
  auto r = RunCmd(WeirBin() + " run " + dir + "/abi.yaml 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("ABI version"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rebuild the plugin"), std::string::npos) << r.out;

  WriteAll(dir + "/name.yaml", PluginDataset(LogfilePlugin(), "plugin:logfiel", "{}", cols));
  r = RunCmd(WeirBin() + " run " + dir + "/name.yaml 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("did you mean 'logfile'"), std::string::npos) << r.out;

  WriteAll(dir + "/missing.yaml", PluginDataset(dir + "/nope.so", "plugin:logfile", "{}", cols));
  r = RunCmd(WeirBin() + " run " + dir + "/missing.yaml 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("nope.so"), std::string::npos) << r.out;

  WriteAll(dir + "/opts.yaml", PluginDataset(LogfilePlugin(), "plugin:logfile", "{min_levle: INFO}", cols));
  r = RunCmd(WeirBin() + " run " + dir + "/opts.yaml 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("min_levle"), std::string::npos) << r.out;
}

TEST(SdkE2E, RegexPresetParsesAccessLogsIntoTypedColumns) {
  std::string dir = TempDir("regex");
  std::string log =
      "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 "
      "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"\n"
      "::1 - - [10/Oct/2000:13:55:37 -0700] \"POST /api HTTP/1.1\" 404 - \"-\" \"curl/8.0\"\n"
      "this is not an access log line\n";
  WriteAll(dir + "/in/access.log", log);
  WriteAll(dir + "/in/manifest.txt", "access.log\n");
  WriteAll(dir + "/dataset.yaml", R"(name: web
read: {connector: files, location: in, manifest: in/manifest.txt, parser: regex, options: {preset: apache_combined}}
write:
  connector: lake
  location: lake
  table: hits
  partition_by: [status]
  columns:
    client: {path: /client, type: string, required: true}
    method: {path: /method, type: string}
    path:   {path: /path, type: string}
    status: {path: /status, type: int64, required: true}
    bytes:  {path: /bytes, type: int64}
    agent:  {path: /user_agent, type: string}
)");
  auto r = Weir("run " + dir + "/dataset.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto q = Weir("query " + dir + "/dataset.yaml \"SELECT client, method, path, status, bytes, agent FROM hits ORDER BY status\" --format csv");
  EXPECT_EQ(q.out,
            "client,method,path,status,bytes,agent\n"
            "127.0.0.1,GET,/apache_pb.gif,200,2326,Mozilla/4.08 [en] (Win98; I ;Nav)\n"
            "::1,POST,/api,404,,curl/8.0\n");
  auto errs = ErrorRecords(dir + "/dataset.yaml");
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0]["reason"].get<std::string>().find("does not match"), std::string::npos);
}

TEST(SdkE2E, WarcFilesPlainAndGzipPerRecordLandInTheLake) {
  std::string dir = TempDir("warc");
  std::string warc = ReadAll(std::string(WEIR_SOURCE_DIR) + "/tests/data/warc/handmade.warc");
  ASSERT_FALSE(warc.empty());
  WriteAll(dir + "/in/a.warc", warc);
  // The same records as a gzip-per-record file (concatenated gzip members), as crawlers write.
  ASSERT_EQ(std::system(("cd " + dir + "/in && python3 -c \"import gzip,re,sys; d=open('a.warc','rb').read(); "
                         "parts=[p for p in re.split(rb'(?=WARC/1\\.[01]\\r\\n)', d) if p]; "
                         "open('b.warc.gz','wb').write(b''.join(gzip.compress(p) for p in parts))\"").c_str()),
            0);
  WriteAll(dir + "/in/manifest.txt", "a.warc\nb.warc.gz\n");
  WriteAll(dir + "/dataset.yaml", R"(name: crawl
read: {connector: files, location: in, manifest: in/manifest.txt, parser: warc}
write:
  connector: lake
  location: lake
  table: records
  partition_by: [type]
  columns:
    type:   {path: /headers/WARC-Type, type: string, required: true}
    id:     {path: /headers/WARC-Record-ID, type: string, required: true}
    uri:    {path: /headers/WARC-Target-URI, type: string}
    length: {path: /content_length, type: int64, required: true}
    body:   {path: /body, type: string}
)");
  auto r = Weir("run " + dir + "/dataset.yaml --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["tasks"].size(), 2u);
  EXPECT_EQ(j["tasks"][0]["written"], j["tasks"][1]["written"]);
  EXPECT_GT(j["tasks"][0]["written"].get<int>(), 3);
  // One hand-made record spells its header "warc-type": headers are addressed as written, so the
  // required column is missing there, in both files, at the same decompressed offsets.
  EXPECT_EQ(j["totals"]["errored"], 2);
  std::istringstream errs(Weir("errors " + dir + "/dataset.yaml --json").out);
  std::string line;
  std::set<std::pair<uint64_t, uint64_t>> ranges;
  while (std::getline(errs, line)) {
    auto e = nlohmann::json::parse(line);
    EXPECT_NE(e["reason"].get<std::string>().find("/headers/WARC-Type"), std::string::npos);
    ranges.insert({e["start_offset"].get<uint64_t>(), e["end_offset"].get<uint64_t>()});
    uint64_t s = e["start_offset"], en = e["end_offset"];
    EXPECT_EQ(warc.substr(s, 8), "WARC/1.1");
    EXPECT_EQ(warc.substr(en - 4, 4), "\r\n\r\n");
  }
  EXPECT_EQ(ranges.size(), 1u);
  // Both files give identical rows, and every body has the announced length.
  auto q = Weir("query " + dir + "/dataset.yaml \"SELECT count(*) FROM (SELECT type, id, uri, length, body, "
                "count(*) AS n FROM records GROUP BY ALL) WHERE n <> 2\" --format csv");
  EXPECT_EQ(q.out, "count_star()\n0\n");
}

}  // namespace
}  // namespace weir::e2e
