// The webcrawl example plugin (a multi-file reader: WARC + CDX) through the real binary, on real
// crawler output: a generated site served by python's http.server, crawled by
// `wget --warc-file --warc-cdx`. Expected values are computed independently of the plugin by a
// small python3 oracle that parses the CDX text and the WARC bytes itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "e2e_util.h"

namespace weir::e2e {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// The oracle: for each CDX line after the header, one JSON object with what the plugin should
// emit, plus "record_offset" (the record's offset in the decompressed WARC), "record_end" (just
// past its trailer) and "member_offset" (for .gz: the compressed offset of the gzip member
// holding it). Written without looking at the plugin: straight WARC framing by Content-Length.
constexpr const char* kOracle = R"PY(
import sys, json, gzip, zlib, re, hashlib, base64
warc_path, cdx_path = sys.argv[1], sys.argv[2]
raw = open(warc_path, 'rb').read()
members = {}  # decompressed offset -> compressed offset of each gzip member
if warc_path.endswith('.gz'):
    data = b''; pos = 0
    while pos < len(raw):
        d = zlib.decompressobj(31)
        out = d.decompress(raw[pos:])
        members[len(data)] = pos
        data += out
        pos = len(raw) - len(d.unused_data)
else:
    data = raw
def headers(block):
    h = {}
    for line in block.split(b'\r\n')[1:]:
        if b':' in line:
            k, v = line.split(b':', 1)
            h.setdefault(k.decode().strip().lower(), v.decode('utf-8', 'replace').strip())
    return h
recs = []
pos = 0
while pos < len(data):
    end = data.index(b'\r\n\r\n', pos)
    h = headers(data[pos:end])
    n = int(h['content-length'])
    recs.append({'offset': pos, 'h': h, 'body': data[end + 4:end + 4 + n], 'end': end + 8 + n})
    pos = end + 8 + n
    while pos < len(data) and data[pos:pos + 1] in (b'\r', b'\n'):
        pos += 1
by_id = {r['h']['warc-record-id'].strip('<>'): i for i, r in enumerate(recs)}
lines = open(cdx_path, 'rb').read().decode().split('\n')
assert lines[0] == ' CDX a b a m s k r M V g u', lines[0]
for line in lines[1:]:
    if not line:
        continue
    f = line.split(' ')
    rid = f[10].strip('<>')
    i = by_id[rid]
    r = recs[i]
    hend = r['body'].index(b'\r\n\r\n') + 4
    http, payload = r['body'][:hend], r['body'][hend:]
    hh = headers(http)
    ctype = hh.get('content-type')
    title = None
    if ctype and 'html' in ctype.lower():
        m = re.search(rb'<title[^>]*>(.*?)</title', payload, re.I | re.S)
        if m:
            title = m.group(1).decode('utf-8').strip()
    ua = None
    if i > 0 and recs[i - 1]['h']['warc-type'] == 'request':
        ua = headers(recs[i - 1]['body'][:recs[i - 1]['body'].index(b'\r\n\r\n')]).get('user-agent')
    print(json.dumps({
        'url': f[0], 'timestamp': f[1], 'mime': f[3], 'status': int(f[4]), 'digest': f[5],
        'warc_offset': int(f[8]), 'warc_filename': f[9], 'record_id': rid,
        'warc_date': r['h']['warc-date'], 'content_length': int(r['h']['content-length']),
        'http_status': int(http.split(b' ')[1]), 'content_type': ctype,
        'payload_length': len(payload),
        'payload_digest': 'sha1:' + base64.b32encode(hashlib.sha1(payload).digest()).decode(),
        'title': title, 'request_user_agent': ua,
        'record_offset': r['offset'], 'record_end': r['end'],
        'member_offset': members.get(r['offset'], -1)}, ensure_ascii=False))
)PY";

// The columns of the test dataset, all the plugin's fields (warc_date as text so the oracle's
// header value compares directly).
constexpr const char* kColumns[] = {
    "url", "timestamp", "mime", "status", "digest", "warc_offset", "warc_filename", "record_id",
    "warc_date", "content_length", "http_status", "content_type", "payload_length",
    "payload_digest", "title", "request_user_agent"};
const std::set<std::string> kIntColumns = {"status", "warc_offset", "content_length",
                                           "http_status", "payload_length"};

std::string DatasetYaml(const std::string& extra_write = "") {
  std::string y = "name: crawl\nplugins: [" + WebcrawlPlugin() +
                  "]\nread:\n  connector: files\n  location: in\n  manifest: in/manifest.txt\n"
                  "  parser: plugin:webcrawl\nwrite:\n  connector: lake\n  location: lake\n"
                  "  table: pages\n" + extra_write + "  columns:\n";
  for (const char* c : kColumns) {
    y += std::string("    ") + c + ": {path: /" + c + ", type: " +
         (kIntColumns.count(c) ? "int64" : "string") +
         (std::string(c) == "url" ? ", required: true" : "") + "}\n";
  }
  return y + "errors:\n  location: errors\ncompute:\n  workers: 1\n";
}

std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

// The lake's rows (every column), through weir query.
std::vector<json> LakeRows(const std::string& yaml) {
  std::string sql = "SELECT ";
  for (const char* c : kColumns) sql += std::string(sql.size() > 7 ? ", " : "") + c;
  sql += " FROM pages ORDER BY record_id";
  CmdResult q = Weir("query " + yaml + " \"" + sql + "\" --format json");
  EXPECT_EQ(q.exit_code, 0) << q.out;
  return JsonLines(q.out);
}

// Only the plugin's fields of an oracle row, for comparing with lake rows.
json PluginFields(const json& oracle_row) {
  json o = json::object();
  for (const char* c : kColumns) o[c] = oracle_row[c];
  return o;
}

// A crawl made once per test binary run: the site, a plain WARC and a gzip WARC of it.
struct Crawl {
  std::string dir;        // holds plain.warc, plain.cdx, crawl.warc.gz, crawl.cdx
  std::string base_url;
  std::string error;      // non-empty when the crawl could not be made
};

const Crawl& SharedCrawl() {
  static const Crawl crawl = [] {
    Crawl c;
    c.dir = TempDir("webcrawl-crawl");
    const std::string site = c.dir + "/site";
    WriteAll(site + "/index.html",
             "<html><head><title>Weir crawl home</title></head><body>\n"
             "<a href=\"a.html\">A</a> <a href=\"b.html\">B</a> <a href=\"caf%C3%A9.html\">caf\xc3\xa9</a>\n"
             "<a href=\"data.bin\">data</a> <a href=\"missing.html\">gone</a>\n</body></html>\n");
    WriteAll(site + "/a.html",
             "<html><head><TITLE>  Page A\n of the crawl </TITLE></head><body>\n"
             "<a href=\"b.html\">B</a> <a href=\"index.html\">home</a>\n</body></html>\n");
    WriteAll(site + "/b.html",
             "<html><head><title>Page B</title></head><body><a href=\"a.html\">A</a></body></html>\n");
    WriteAll(site + "/caf\xc3\xa9.html",
             "<html><head><meta charset=\"utf-8\"><title>Caf\xc3\xa9 \xc3\x9cml\xc3\xa4ut \xe2\x9c\x93"
             "</title></head><body>\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e</body></html>\n");
    std::string bin;
    for (int i = 0; i < 3000; ++i) bin += static_cast<char>((i * 7919 + i / 13) & 0xff);
    WriteAll(site + "/data.bin", bin);
    LocalHttpServer server;
    if (!server.Start(site, c.dir + "/server.log")) {
      c.error = "http.server did not come up: " + ReadAll(c.dir + "/server.log");
      return c;
    }
    c.base_url = server.base_url();
    for (const std::string& mode : {std::string("plain"), std::string("crawl")}) {
      // wget exits 8 when a fetch failed (missing.html and robots.txt are 404s here).
      CmdResult r = RunCmd("cd " + c.dir + " && timeout -k 5 60 wget --no-config --no-proxy "
                           "--recursive --level=3 --no-http-keep-alive --tries=2 --timeout=10 "
                           "--warc-file=" + mode + " --warc-cdx " +
                           (mode == "plain" ? "--no-warc-compression " : "") + "--no-verbose "
                           "--directory-prefix=mirror-" + mode + " " + c.base_url +
                           " > wget-" + mode + ".log 2>&1; echo $?");
      if (r.out != "0\n" && r.out != "8\n") {
        c.error = "wget exit " + r.out + ": " + ReadAll(c.dir + "/wget-" + mode + ".log");
        return c;
      }
    }
    return c;
  }();
  return crawl;
}

// Runs the oracle over a WARC and its CDX (paths relative to `dir`).
std::vector<json> Oracle(const std::string& dir, const std::string& warc, const std::string& cdx) {
  WriteAll(dir + "/oracle.py", kOracle);
  CmdResult r = RunCmd("cd " + dir + " && /usr/bin/python3 oracle.py " + warc + " " + cdx);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return JsonLines(r.out);
}

class WebcrawlE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    const Crawl& c = SharedCrawl();
    ASSERT_TRUE(c.error.empty()) << c.error;
    dir_ = TempDir(std::string("webcrawl-") +
                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ + "/in");
    for (const char* f : {"plain.warc", "plain.cdx", "crawl.warc.gz", "crawl.cdx"}) {
      fs::copy_file(c.dir + "/" + f, dir_ + "/in/" + f);
    }
  }
  // The yaml path of a dataset over the manifest `entries`.
  std::string Dataset(const std::string& entries, const std::string& extra_write = "") {
    WriteAll(dir_ + "/in/manifest.txt", entries);
    WriteAll(dir_ + "/dataset.yaml", DatasetYaml(extra_write));
    return dir_ + "/dataset.yaml";
  }
  std::string dir_;
};

// Every task's accounting holds; returns the run's JSON.
json RunOk(const std::string& yaml, const std::string& flags = "") {
  CmdResult r = Weir("run " + yaml + " --json --no-progress" + flags);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  if (j.is_discarded()) return json::object();
  for (const json& t : j["tasks"]) {
    EXPECT_EQ(t["read"].get<int64_t>(),
              t["written"].get<int64_t>() + t["skipped"].get<int64_t>() + t["errored"].get<int64_t>())
        << t.dump();
  }
  return j;
}

TEST_F(WebcrawlE2E, OneRowPerCdxLineWithFieldsFromBothFiles) {
  const std::vector<json> plain = Oracle(dir_ + "/in", "plain.warc", "plain.cdx");
  const std::vector<json> gz = Oracle(dir_ + "/in", "crawl.warc.gz", "crawl.cdx");
  // The crawl reached every page: /, robots.txt (404), index.html, a, b, café, data.bin, missing (404).
  ASSERT_GE(plain.size(), 8u);
  ASSERT_EQ(plain.size(), gz.size());
  std::set<std::string> urls;
  bool saw_404 = false, saw_binary = false, saw_non_ascii_title = false;
  for (const json& o : plain) {
    urls.insert(o["url"].get<std::string>());
    // wget's CDX offset (field V) for an uncompressed WARC is the record's offset...
    EXPECT_EQ(o["warc_offset"], o["record_offset"]) << o.dump();
    saw_404 |= o["http_status"] == 404;
    saw_binary |= o["content_type"] == "application/octet-stream";
    saw_non_ascii_title |= o["title"].is_string() && o["title"].get<std::string>().find("\xe2\x9c\x93") != std::string::npos;
  }
  for (const json& o : gz) {
    // ...and for a .warc.gz the COMPRESSED offset of the record's gzip member, which is why the
    // plugin matches .gz records by id only.
    EXPECT_EQ(o["warc_offset"], o["member_offset"]) << o.dump();
    EXPECT_NE(o["warc_offset"], o["record_offset"]) << o.dump();
  }
  EXPECT_TRUE(urls.count(SharedCrawl().base_url + "caf%C3%A9.html")) << "café page not crawled";
  EXPECT_TRUE(saw_404 && saw_binary && saw_non_ascii_title);

  const std::string yaml =
      Dataset("WARC:plain.warc|CDX:plain.cdx\nWARC:crawl.warc.gz|CDX:crawl.cdx\n");
  json run = RunOk(yaml);
  EXPECT_EQ(run["totals"]["errored"], 0) << run.dump();
  EXPECT_EQ(run["totals"]["written"].get<size_t>(), plain.size() + gz.size());

  std::map<std::string, json> expected;
  for (const auto* set : {&plain, &gz}) {
    for (const json& o : *set) expected[o["record_id"].get<std::string>()] = PluginFields(o);
  }
  const std::vector<json> rows = LakeRows(yaml);
  ASSERT_EQ(rows.size(), expected.size());
  for (const json& row : rows) {
    auto it = expected.find(row["record_id"].get<std::string>());
    ASSERT_NE(it, expected.end()) << row.dump();
    EXPECT_EQ(row, it->second);
  }

  // (c) A second run finds nothing to do; --restart gives the same rows.
  json again = RunOk(yaml);
  EXPECT_EQ(again["tasks_run"], 0) << again.dump();
  EXPECT_EQ(again["totals"]["written"], run["totals"]["written"]) << again.dump();
  EXPECT_EQ(LakeRows(yaml), rows);
  json restarted = RunOk(yaml, " --restart");
  EXPECT_EQ(restarted["tasks_run"], 2) << restarted.dump();
  EXPECT_EQ(restarted["totals"], run["totals"]);
  EXPECT_EQ(LakeRows(yaml), rows);
}

// Reads one error record's bytes back from the file it names.
std::string BytesAt(const json& e) {
  const std::string all = ReadAll(e["path"].get<std::string>());
  const uint64_t s = e["start_offset"], end = e["end_offset"];
  return all.substr(s, end - s);
}

TEST_F(WebcrawlE2E, CorruptInputsGiveErrorsNamingTheBadFileWhileGoodUrlsLand) {
  const std::vector<json> truth = Oracle(dir_ + "/in", "plain.warc", "plain.cdx");
  ASSERT_GE(truth.size(), 7u);
  const std::string cdx = ReadAll(dir_ + "/in/plain.cdx");
  const std::string warc = ReadAll(dir_ + "/in/plain.warc");

  // bad.cdx: line 2 (the second URL) gets an offset that points nowhere, and a garbage line is
  // inserted before line 4.
  std::vector<std::string> lines;
  {
    std::istringstream in(cdx);
    std::string l;
    while (std::getline(in, l)) lines.push_back(l + "\n");
  }
  ASSERT_EQ(lines.size(), truth.size() + 1);
  const std::string moved_url = truth[1]["url"];
  {
    std::string& l = lines[2];
    const std::string off = " " + std::to_string(truth[1]["warc_offset"].get<int64_t>()) + " ";
    const size_t at = l.find(off);
    ASSERT_NE(at, std::string::npos) << l;
    l.replace(at, off.size(), " 99999999 ");
  }
  const std::string garbage = "this is not a CDX line\n";
  lines.insert(lines.begin() + 4, garbage);
  std::string bad_cdx;
  for (const std::string& l : lines) bad_cdx += l;
  WriteAll(dir_ + "/in/bad.cdx", bad_cdx);

  // cut.warc: the plain WARC cut inside the body of the response record of the 4th CDX line
  // (10 bytes before its end: the 4-byte trailer and the body's last 6 bytes are missing).
  const json& cut_at = truth[3];
  const uint64_t cut = cut_at["record_end"].get<uint64_t>() - 10;
  WriteAll(dir_ + "/in/cut.warc", warc.substr(0, cut));

  // Task 3: flipped.warc has one payload byte of the 3rd line's response changed (same length,
  // so the framing holds but the payload no longer hashes to its WARC-Payload-Digest: the WARC is
  // wrong); mixed.cdx has the 5th line's URL and the 6th line's digest changed (the WARC agrees
  // with itself: the CDX is wrong).
  std::string flipped = warc;
  const uint64_t flip_at = truth[2]["record_end"].get<uint64_t>() - 5;  // last payload byte
  flipped[flip_at] = flipped[flip_at] == 'X' ? 'Y' : 'X';
  WriteAll(dir_ + "/in/flipped.warc", flipped);
  std::vector<std::string> mixed_lines;
  {
    std::istringstream in(cdx);
    std::string l;
    while (std::getline(in, l)) mixed_lines.push_back(l + "\n");
  }
  ASSERT_EQ(mixed_lines[5].rfind(truth[4]["url"].get<std::string>() + " ", 0), 0u);
  mixed_lines[5].insert(truth[4]["url"].get<std::string>().size(), "?changed");
  const std::string digest = " " + truth[5]["digest"].get<std::string>() + " ";
  const size_t digest_at = mixed_lines[6].find(digest);
  ASSERT_NE(digest_at, std::string::npos);
  mixed_lines[6].replace(digest_at, digest.size(), " " + std::string(32, 'A') + " ");
  std::string mixed;
  for (const std::string& l : mixed_lines) mixed += l;
  WriteAll(dir_ + "/in/mixed.cdx", mixed);

  const std::string yaml = Dataset(
      "WARC:plain.warc|CDX:bad.cdx\nWARC:cut.warc|CDX:plain.cdx\nWARC:flipped.warc|CDX:mixed.cdx\n");
  json run = RunOk(yaml);
  const std::vector<json> errs = JsonLines(Weir("errors " + yaml + " --json").out);

  // Task 1: every URL but the moved one lands; two errors, both naming the CDX file.
  // Task 2: the URLs before the cut land; the cut record is a WARC error that takes its CDX line
  // along, and each later CDX line is a WARC error at the WARC's end ("ends before").
  std::vector<json> bad_cdx_errs, cut_errs, mixed_errs;
  for (const json& e : errs) {
    if (e["file"] == "WARC:plain.warc|CDX:bad.cdx") bad_cdx_errs.push_back(e);
    else if (e["file"] == "WARC:cut.warc|CDX:plain.cdx") cut_errs.push_back(e);
    else mixed_errs.push_back(e);
  }
  ASSERT_EQ(bad_cdx_errs.size(), 2u) << json(errs).dump(1);
  for (const json& e : bad_cdx_errs) {
    EXPECT_EQ(e["file_type"], "CDX") << e.dump();
    EXPECT_EQ(e["path"], dir_ + "/in/bad.cdx");
    EXPECT_EQ(e["excerpt"], BytesAt(e)) << e.dump();
    EXPECT_EQ(e["document"]["CDX"]["records"], 1) << e.dump();
  }
  // Sorted by position in the CDX file: the moved line, then the garbage line.
  if (bad_cdx_errs[0]["start_offset"] > bad_cdx_errs[1]["start_offset"]) std::swap(bad_cdx_errs[0], bad_cdx_errs[1]);
  EXPECT_EQ(BytesAt(bad_cdx_errs[0]), lines[2]);
  EXPECT_NE(bad_cdx_errs[0]["reason"].get<std::string>().find("matches no WARC record"), std::string::npos)
      << bad_cdx_errs[0].dump();
  EXPECT_EQ(BytesAt(bad_cdx_errs[1]), garbage);
  EXPECT_NE(bad_cdx_errs[1]["reason"].get<std::string>().find("malformed CDX line"), std::string::npos);
  // The moved line's unit also consumed its WARC response record (ids agree), so the next line
  // matches again: the WARC range of the unit ends at the end of that record.
  EXPECT_EQ(bad_cdx_errs[0]["document"]["WARC"]["end_offset"], truth[1]["record_end"]);

  ASSERT_EQ(cut_errs.size(), truth.size() - 3) << json(errs).dump(1);
  std::sort(cut_errs.begin(), cut_errs.end(),
            [](const json& a, const json& b) { return a["record_number"] < b["record_number"]; });
  for (const json& e : cut_errs) {
    EXPECT_EQ(e["file_type"], "WARC") << e.dump();
    EXPECT_EQ(e["path"], dir_ + "/in/cut.warc");
  }
  const json& trunc = cut_errs[0];
  EXPECT_EQ(trunc["start_offset"], cut_at["record_offset"]) << trunc.dump();
  EXPECT_EQ(trunc["end_offset"], cut) << trunc.dump();
  EXPECT_NE(trunc["reason"].get<std::string>().find("truncated"), std::string::npos) << trunc.dump();
  const std::string excerpt = trunc["excerpt"];
  EXPECT_EQ(excerpt, BytesAt(trunc).substr(0, excerpt.size()));
  EXPECT_EQ(trunc["document"]["CDX"]["records"], 1);  // its CDX line went with it
  for (size_t i = 1; i < cut_errs.size(); ++i) {
    EXPECT_EQ(cut_errs[i]["start_offset"], cut) << cut_errs[i].dump();  // the WARC's end
    EXPECT_NE(cut_errs[i]["reason"].get<std::string>().find("ends before"), std::string::npos);
    EXPECT_EQ(cut_errs[i]["document"]["CDX"]["records"], 1);
  }

  // Task 3: the damaged payload names the WARC with the record's exact range; the URL and digest
  // disagreements name the CDX lines.
  ASSERT_EQ(mixed_errs.size(), 3u) << json(mixed_errs).dump(1);
  std::sort(mixed_errs.begin(), mixed_errs.end(), [](const json& a, const json& b) {
    return a["document"]["CDX"]["start_offset"] < b["document"]["CDX"]["start_offset"];
  });
  EXPECT_EQ(mixed_errs[0]["file_type"], "WARC");
  EXPECT_EQ(mixed_errs[0]["path"], dir_ + "/in/flipped.warc");
  EXPECT_EQ(mixed_errs[0]["start_offset"], truth[2]["record_offset"]);
  EXPECT_EQ(mixed_errs[0]["end_offset"], truth[2]["record_end"]);
  EXPECT_NE(mixed_errs[0]["reason"].get<std::string>().find("WARC-Payload-Digest"), std::string::npos)
      << mixed_errs[0].dump();
  const std::string flipped_excerpt = mixed_errs[0]["excerpt"];
  EXPECT_EQ(flipped_excerpt, BytesAt(mixed_errs[0]).substr(0, flipped_excerpt.size()));
  for (size_t i : {1u, 2u}) {
    EXPECT_EQ(mixed_errs[i]["file_type"], "CDX") << mixed_errs[i].dump();
    EXPECT_EQ(mixed_errs[i]["path"], dir_ + "/in/mixed.cdx");
    EXPECT_EQ(BytesAt(mixed_errs[i]), mixed_lines[i + 4]);
    EXPECT_EQ(mixed_errs[i]["excerpt"], mixed_lines[i + 4]);
  }
  EXPECT_NE(mixed_errs[1]["reason"].get<std::string>().find("WARC-Target-URI"), std::string::npos)
      << mixed_errs[1].dump();
  EXPECT_NE(mixed_errs[2]["reason"].get<std::string>().find("CDX digest"), std::string::npos)
      << mixed_errs[2].dump();

  // The good URLs landed, with the oracle's values.
  std::map<std::string, json> expected;
  for (size_t i = 0; i < truth.size(); ++i) {
    if (i != 1) expected[truth[i]["record_id"].get<std::string>() + "#1"] = PluginFields(truth[i]);
    if (i < 3) expected[truth[i]["record_id"].get<std::string>() + "#2"] = PluginFields(truth[i]);
    if (i != 2 && i != 4 && i != 5) {
      expected[truth[i]["record_id"].get<std::string>() + "#3"] = PluginFields(truth[i]);
    }
  }
  std::multiset<std::string> got_ids;
  std::map<std::string, json> by_id;
  for (const json& row : LakeRows(yaml)) {
    got_ids.insert(row["record_id"].get<std::string>());
    by_id[row["record_id"].get<std::string>()] = row;
  }
  // Both tasks read the same WARC bytes, so a record id lands once per task that had it.
  std::multiset<std::string> want_ids;
  for (const auto& [key, row] : expected) want_ids.insert(row["record_id"].get<std::string>());
  EXPECT_EQ(got_ids, want_ids);
  for (const auto& [key, row] : expected) EXPECT_EQ(by_id[row["record_id"].get<std::string>()], row);
  EXPECT_EQ(run["totals"]["written"].get<size_t>(), expected.size());
  EXPECT_EQ(run["totals"]["errored"].get<size_t>(), errs.size());
}

TEST_F(WebcrawlE2E, CrashAfterCommitThenRerunGivesTheUninterruptedRows) {
  // The gzip crawl first: with one worker both crashes below fall inside it, so the resumed
  // runs restart its readers mid-file in the decompressed stream.
  const std::string entries = "WARC:crawl.warc.gz|CDX:crawl.cdx\nWARC:plain.warc|CDX:plain.cdx\n";
  // Reference: an uninterrupted run in a sibling folder.
  const std::string ref_dir = dir_ + "/ref";
  fs::create_directories(ref_dir + "/in");
  for (const char* f : {"plain.warc", "plain.cdx", "crawl.warc.gz", "crawl.cdx"}) {
    fs::copy_file(dir_ + "/in/" + f, ref_dir + "/in/" + f);
  }
  WriteAll(ref_dir + "/in/manifest.txt", entries);
  WriteAll(ref_dir + "/dataset.yaml", DatasetYaml());
  RunOk(ref_dir + "/dataset.yaml");
  const std::vector<json> want = LakeRows(ref_dir + "/dataset.yaml");
  ASSERT_GE(want.size(), 16u);

  // One document per commit, killed (SIGKILL) after the second and, on the rerun, after four
  // more: the resumed readers start mid-file, in the gzip WARC too.
  const std::string yaml = Dataset(entries, "  roll_records: 1\n");
  CmdResult r = Weir("run " + yaml + " --json --no-progress",
                     "WEIR_CRASH_AT=after-commit WEIR_CRASH_AFTER_COMMITS=2");
  EXPECT_EQ(r.signal, SIGKILL) << r.out;
  const size_t after_first = LakeRows(yaml).size();
  EXPECT_GE(after_first, 2u);  // committed documents are visible...
  EXPECT_LT(after_first, want.size() / 2);  // ...and the crash came inside the first task
  r = Weir("run " + yaml + " --json --no-progress",
           "WEIR_CRASH_AT=after-commit WEIR_CRASH_AFTER_COMMITS=4");
  EXPECT_EQ(r.signal, SIGKILL) << r.out;
  const size_t after_second = LakeRows(yaml).size();
  EXPECT_GT(after_second, after_first);
  EXPECT_LT(after_second, want.size() / 2);
  json done = RunOk(yaml);
  EXPECT_TRUE(done["all_completed"].get<bool>()) << done.dump();
  const std::vector<json> got = LakeRows(yaml);
  EXPECT_EQ(got, want);  // same rows, each once (both sorted by the unique record id)
  std::set<std::string> ids;
  for (const json& row : got) ids.insert(row["record_id"].get<std::string>());
  EXPECT_EQ(ids.size(), got.size());
  EXPECT_EQ(Weir("errors " + yaml + " --json").out, "");
}

}  // namespace
}  // namespace weir::e2e
