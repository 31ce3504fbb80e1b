// webcrawl: an example weir multi-file reader plugin (SDK shape 3, weir::sdk::MultiFileReader).
//
// A crawl made by `wget --warc-file=crawl --warc-cdx` is two files: the WARC archive (every
// request, response and metadata record the crawler wrote) and its CDX index (a header line
// ` CDX a b a m s k r M V g u`, then one line per response record). This reader walks both in
// step and emits ONE document per CDX line, joining the index entry with the response record
// it names:
//
//   from the CDX line:       /url /timestamp /mime /status /digest /warc_offset /warc_filename
//   from the WARC response:  /record_id /warc_date /content_length /http_status /content_type
//                            /payload_length /payload_digest /title (HTML only)
//   from the request record  /request_user_agent (when the request precedes the response in the
//   just before it:          same Read(), as wget writes it)
//
// Matching a CDX line to its record: the line's record id (field `u`) must equal the next WARC
// response record's WARC-Record-ID. The line's offset (field `V`) is also compared with the
// record's offset, but only for uncompressed WARC files: for a .warc.gz wget writes the offset of
// the record's gzip member in the COMPRESSED file, while the engine's record readers count
// offsets in the decompressed stream, so the two cannot be compared (option `check_offsets`).
//
// Every record of both files ends up in exactly one unit (document, skip or error); see
// README.md for the list of skips and errors and which file each error names.
//
// Copy this folder to start your own multi-file reader: it depends only on weir's SDK header
// (weir::sdk) and nlohmann/json for reading the options.
#include <weir/sdk.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using weir::sdk::Document;
using weir::sdk::ReadResult;
using weir::sdk::Record;
using weir::sdk::RecordFormat;
using weir::sdk::RecordReader;
using weir::sdk::RecordType;

constexpr int kWarc = 0;  // index of the WARC file type in file_types() and in `readers`
constexpr int kCdx = 1;
constexpr std::string_view kWgetCdxFields = "a b a m s k r M V g u";

// ---- small text helpers ----

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// Position of `needle` in `hay`, ignoring ASCII case, from `from`; npos when absent.
size_t IFind(std::string_view hay, std::string_view needle, size_t from = 0) {
  if (needle.empty() || hay.size() < needle.size()) return std::string_view::npos;
  for (size_t i = from; i + needle.size() <= hay.size(); ++i) {
    if (IEquals(hay.substr(i, needle.size()), needle)) return i;
  }
  return std::string_view::npos;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' ||
                        s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// A non-negative decimal integer filling all of `s`, or nullopt (also on overflow).
std::optional<int64_t> ParseUInt(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "<urn:uuid:...>" and "<http://...>" (WARC/1.0 writes URIs in angle brackets) -> inner text.
std::string_view StripAngles(std::string_view s) {
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') return s.substr(1, s.size() - 2);
  return s;
}

// The value of header `name` in a block of "Name: value\r\n" lines (WARC or HTTP headers; the
// first line, a version or status line, never matches because it has no "Name:" prefix that
// equals a header name). Empty when absent.
std::string_view HeaderValue(std::string_view block, std::string_view name) {
  size_t pos = 0;
  while (pos < block.size()) {
    size_t eol = block.find('\n', pos);
    if (eol == std::string_view::npos) eol = block.size();
    std::string_view line = block.substr(pos, eol - pos);
    pos = eol + 1;
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos && IEquals(Trim(line.substr(0, colon)), name)) {
      return Trim(line.substr(colon + 1));
    }
  }
  return {};
}

// ---- SHA-1 + base32: the digest wget writes as WARC-Payload-Digest "sha1:<BASE32>" and as
// the CDX `k` field. Computed here so a digest disagreement can be judged (see Judge below). ----

// Incremental-free SHA-1 (FIPS 180-4) of one buffer. Pure function, no state.
std::array<uint8_t, 20> Sha1(std::string_view data) {
  uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  auto rol = [](uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  auto block = [&](const uint8_t* p) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      w[i] = (uint32_t{p[4 * i]} << 24) | (uint32_t{p[4 * i + 1]} << 16) |
             (uint32_t{p[4 * i + 2]} << 8) | uint32_t{p[4 * i + 3]};
    }
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999u;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1u;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDCu;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6u;
      }
      const uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rol(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  };
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  size_t i = 0;
  for (; i + 64 <= data.size(); i += 64) block(bytes + i);
  // The tail, the 0x80 marker and the 64-bit big-endian bit length, in one or two blocks.
  uint8_t tail[128] = {};
  const size_t rest = data.size() - i;
  if (rest > 0) std::memcpy(tail, bytes + i, rest);
  tail[rest] = 0x80;
  const size_t tail_len = rest + 9 <= 64 ? 64 : 128;
  const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  for (int j = 0; j < 8; ++j) tail[tail_len - 1 - j] = static_cast<uint8_t>(bits >> (8 * j));
  block(tail);
  if (tail_len == 128) block(tail + 64);
  std::array<uint8_t, 20> out{};
  for (int j = 0; j < 5; ++j) {
    for (int k = 0; k < 4; ++k) out[4 * j + k] = static_cast<uint8_t>(h[j] >> (24 - 8 * k));
  }
  return out;
}

// RFC 4648 base32 without padding (20 bytes -> 32 characters, as wget writes digests).
std::string Base32(const std::array<uint8_t, 20>& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (5 - bits)) & 31];
  return out;
}

// ---- the two record kinds ----

// One CDX line split by the field letters of the header. Views into the line's bytes.
struct CdxLine {
  std::string_view url, timestamp, mime, status, digest, filename, record_id;
  int64_t offset = -1;
};

// The parts of a WARC record this reader uses. Views into the record's bytes, which stay valid
// only until the next Next()/Peek() on the WARC reader.
struct WarcRecord {
  std::string_view header;  // the WARC header block, version line included
  std::string_view body;    // Content-Length bytes after the header
  std::string_view type, record_id, target_uri, date, payload_digest;
  int64_t content_length = -1;
};

// Splits a record delimited by the WARC RecordFormat into header and body. False (with `why`)
// when the header lacks what a record must have; the engine already checked the framing.
bool SplitWarc(std::string_view bytes, WarcRecord& w, std::string& why) {
  const size_t end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    why = "WARC record without a header end";
    return false;
  }
  w.header = bytes.substr(0, end + 2);
  w.type = HeaderValue(w.header, "WARC-Type");
  w.record_id = StripAngles(HeaderValue(w.header, "WARC-Record-ID"));
  w.target_uri = StripAngles(HeaderValue(w.header, "WARC-Target-URI"));
  w.date = HeaderValue(w.header, "WARC-Date");
  w.payload_digest = HeaderValue(w.header, "WARC-Payload-Digest");
  const auto len = ParseUInt(HeaderValue(w.header, "Content-Length"));
  if (w.type.empty() || w.record_id.empty() || !len) {
    why = "WARC record header lacks WARC-Type, WARC-Record-ID or Content-Length";
    return false;
  }
  w.content_length = *len;
  const size_t body_at = end + 4;
  if (bytes.size() < body_at + static_cast<size_t>(*len)) {
    why = "WARC record shorter than its Content-Length";
    return false;
  }
  w.body = bytes.substr(body_at, static_cast<size_t>(*len));
  return true;
}

bool IsCaptureRecord(std::string_view type) { return type == "response" || type == "revisit"; }

// ---- the reader ----

// WebcrawlReader: joins a wget CDX index with its WARC file, one document per CDX line.
// Purpose: the shipped example of SDK shape 3; see the file comment for the document and
// README.md for skips, errors and their judgement.
// Ownership: holds only its options; records belong to the engine's readers and are copied
// into the Document (whose setters copy). Keeps no state between Read() calls: every decision
// is made from the records the readers return (restart-safe, as the SDK contract requires).
// Thread-safety: none needed; the engine creates one instance per worker thread.
class WebcrawlReader : public weir::sdk::MultiFileReader {
 public:
  explicit WebcrawlReader(const std::string& options_json) {
    nlohmann::json options = nlohmann::json::parse(options_json, nullptr, false);
    if (options.is_discarded() || !options.is_object()) {
      throw std::invalid_argument("webcrawl options must be a JSON object, got: " + options_json);
    }
    std::string fields(kWgetCdxFields);
    for (const auto& [key, value] : options.items()) {
      if (key == "cdx_fields") {
        if (!value.is_string()) throw std::invalid_argument("webcrawl option cdx_fields: expected a string");
        fields = value.get<std::string>();
      } else if (key == "check_offsets") {
        const std::string v = value.is_string() ? value.get<std::string>() : "";
        if (v == "auto") check_ = Check::kAuto;
        else if (v == "always") check_ = Check::kAlways;
        else if (v == "never") check_ = Check::kNever;
        else throw std::invalid_argument("webcrawl option check_offsets: expected auto, always or never");
      } else {
        throw std::invalid_argument("webcrawl: unknown option '" + key +
                                    "' (known options: cdx_fields, check_offsets)");
      }
    }
    SetFields(fields);
  }

  std::vector<RecordType> file_types() const override {
    RecordFormat warc;
    warc.kind = RecordFormat::Kind::kHeaderBody;
    warc.start = "WARC/";
    warc.end = "\r\n\r\n";
    warc.trailer = "\r\n\r\n";
    RecordFormat cdx;  // one line a record
    cdx.start = "";
    cdx.end = "\n";
    return {{"WARC", warc}, {"CDX", cdx}};
  }

  int64_t BodyLength(int file, std::string_view header) const override {
    if (file != kWarc) return -1;
    const auto len = ParseUInt(HeaderValue(header, "Content-Length"));
    return len ? *len : -1;
  }

  ReadResult Read(const std::vector<RecordReader*>& readers, Document& doc) override {
    RecordReader& warc = *readers[kWarc];
    RecordReader& cdx = *readers[kCdx];
    Record line;
    if (!cdx.Peek(line)) {
      if (cdx.state() == RecordReader::State::kFailed) return ReadResult::Skip("read failed");
      return ReadTail(warc);
    }
    const std::string_view text = Trim(line.bytes);
    if (text.empty()) {
      cdx.Next(line);
      return ReadResult::Skip("blank CDX line");
    }
    if (text.substr(0, 4) == "CDX " || line.bytes.substr(0, 5) == " CDX ") {
      cdx.Next(line);
      if (Trim(text.substr(4)) != fields_text_) {
        return ReadResult::Error(kCdx, "CDX header declares fields '" + std::string(Trim(text.substr(4))) +
                                           "', this reader is configured for '" + fields_text_ +
                                           "' (option cdx_fields)");
      }
      return ReadResult::Skip("CDX header line");
    }
    CdxLine c;
    std::string why;
    if (!ParseCdx(text, c, why)) {
      cdx.Next(line);
      return ReadResult::Error(kCdx, "malformed CDX line: " + why);
    }
    // Copies: the CDX line's bytes stay valid (no further call on the CDX reader until
    // Next(line) below), but keeping copies makes the rule obvious to readers of this example.
    const std::string record_id(c.record_id), url(c.url), digest(c.digest);
    const int64_t cdx_offset = c.offset;
    const bool compare_offsets =
        check_ == Check::kAlways ||
        (check_ == Check::kAuto && !EndsWith(warc.file_name(), ".gz"));

    // The records in front of the response (warcinfo, the request, ...) belong to this unit.
    std::string user_agent;
    bool have_request = false;
    for (;;) {
      Record rec;
      if (!warc.Peek(rec)) {
        if (warc.state() == RecordReader::State::kFailed) return ReadResult::Skip("read failed");
        cdx.Next(line);
        // Judgement: the index names a record the archive does not have. Blamed on the WARC
        // (a truncated or incomplete archive is the usual cause); the error's WARC range is the
        // end of the file.
        return ReadResult::Error(kWarc, "the WARC file ends before the response record " +
                                            record_id + " of CDX line " + std::to_string(line.number + 1) +
                                            " (" + url + "); truncated WARC file?");
      }
      if (rec.problem != nullptr) {
        // A record the engine could not delimit. If it is this line's record (same offset, or
        // its excerpt carries the line's record id) the line goes with it into the error.
        const bool is_target = (compare_offsets && rec.offset == static_cast<uint64_t>(cdx_offset)) ||
                               rec.bytes.find(record_id) != std::string_view::npos;
        const std::string problem = rec.problem;
        warc.Next(rec);
        if (is_target) cdx.Next(line);
        return ReadResult::Error(kWarc, "WARC record at offset " + std::to_string(rec.offset) + ": " + problem +
                                            (is_target ? " (the record of CDX line " + url + ")" : ""));
      }
      WarcRecord w;
      if (!SplitWarc(rec.bytes, w, why)) {
        warc.Next(rec);
        return ReadResult::Error(kWarc, why);
      }
      if (!IsCaptureRecord(w.type)) {
        if (w.type == "request") {
          user_agent = std::string(HeaderValue(HttpHeaders(w.body), "User-Agent"));
          have_request = true;
        }
        warc.Next(rec);
        continue;
      }
      // The next response. Is it this line's record?
      const bool id_match = w.record_id == record_id;
      const bool offset_match = rec.offset == static_cast<uint64_t>(cdx_offset);
      if (!id_match) {
        if (compare_offsets && rec.offset < static_cast<uint64_t>(cdx_offset)) {
          // The line points further on: this response has no line in the index. Skipped with
          // the records before it, so the line is matched again by the next Read().
          std::string reason = "WARC " + std::string(w.type) + " record " + std::string(w.record_id) +
                               " (" + std::string(w.target_uri) + ") has no CDX line";
          warc.Next(rec);
          return ReadResult::Skip(std::move(reason));
        }
        if (compare_offsets && offset_match) {
          std::string reason = "CDX line names record " + record_id + " at offset " +
                               std::to_string(cdx_offset) + ", but the record there is " +
                               std::string(w.record_id);
          cdx.Next(line);
          warc.Next(rec);
          return ReadResult::Error(kCdx, std::move(reason));
        }
        // The line points at no response record before this one (compressed WARC: the id is
        // all there is to go on). The response stays for the next line.
        std::string reason =
            compare_offsets
                ? "CDX offset " + std::to_string(cdx_offset) +
                      " matches no WARC response record (the next one, " + std::string(w.record_id) +
                      ", starts at " + std::to_string(rec.offset) + ")"
                : "CDX line names record " + record_id + ", but the next WARC response record is " +
                      std::string(w.record_id);
        cdx.Next(line);
        return ReadResult::Error(kCdx, std::move(reason));
      }
      // This line's record: consume both and cross-check.
      if (compare_offsets && !offset_match) {
        cdx.Next(line);
        warc.Next(rec);
        return ReadResult::Error(kCdx, "CDX offset " + std::to_string(cdx_offset) +
                                           " matches no WARC record; record " + record_id +
                                           " starts at offset " + std::to_string(rec.offset));
      }
      if (w.target_uri != url) {
        // Judgement: the WARC record is the crawler's primary output, the CDX is derived from
        // it, and the ids agree: the index is wrong.
        std::string reason = "CDX URL " + url + " differs from the WARC-Target-URI " +
                             std::string(w.target_uri) + " of record " + record_id;
        cdx.Next(line);
        warc.Next(rec);
        return ReadResult::Error(kCdx, std::move(reason));
      }
      const std::string_view http_headers = HttpHeaders(w.body);
      const std::string_view payload = w.body.substr(http_headers.size());
      const std::string computed = "sha1:" + Base32(Sha1(payload));
      // A revisit record carries no payload: its digests name the original capture's payload,
      // so there is nothing to hash and compare.
      const bool check_digests = w.type == "response";
      if (check_digests && !w.payload_digest.empty() && !IEquals(w.payload_digest, computed)) {
        // The archive's bytes do not hash to what the archive itself says: the WARC is wrong.
        std::string reason = "payload of record " + record_id + " hashes to " + computed +
                             ", its WARC-Payload-Digest says " + std::string(w.payload_digest);
        cdx.Next(line);
        warc.Next(rec);
        return ReadResult::Error(kWarc, std::move(reason));
      }
      if (check_digests && digest != "-" && !IEquals("sha1:" + digest, computed)) {
        cdx.Next(line);
        warc.Next(rec);
        // The payload hashes to what the WARC says, so it is the index that disagrees.
        return ReadResult::Error(kCdx, "CDX digest " + digest + " differs from the payload digest " +
                                           computed.substr(5) + " of record " + record_id);
      }
      // All checks passed: build the document (setters copy; the line's views are still valid).
      doc.Set("url", c.url);
      doc.Set("timestamp", c.timestamp);
      doc.Set("mime", c.mime);
      if (const auto status = ParseUInt(c.status)) doc.SetInt("status", *status);
      doc.Set("digest", c.digest);
      doc.SetInt("warc_offset", cdx_offset);
      doc.Set("warc_filename", c.filename);
      doc.Set("record_id", w.record_id);
      doc.Set("warc_date", w.date);
      doc.SetInt("content_length", w.content_length);
      if (const auto code = HttpStatus(w.body)) doc.SetInt("http_status", *code);
      const std::string_view content_type = HeaderValue(http_headers, "Content-Type");
      if (!content_type.empty()) doc.Set("content_type", content_type);
      doc.SetInt("payload_length", static_cast<int64_t>(payload.size()));
      if (check_digests) doc.Set("payload_digest", computed);
      if (IFind(content_type, "html") != std::string_view::npos) {
        if (const auto title = Title(payload)) doc.Set("title", *title);
      }
      if (have_request) doc.Set("request_user_agent", user_agent);
      warc.Next(rec);
      cdx.Next(line);
      return ReadResult::Doc();
    }
  }

 private:
  enum class Check : uint8_t { kAuto, kAlways, kNever };

  static bool EndsWith(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
  }

  void SetFields(const std::string& fields) {
    fields_text_ = std::string(Trim(fields));
    letters_.clear();
    size_t pos = 0;
    while (pos < fields_text_.size()) {
      size_t sp = fields_text_.find(' ', pos);
      if (sp == std::string::npos) sp = fields_text_.size();
      if (sp > pos) letters_.push_back(fields_text_.substr(pos, sp - pos));
      pos = sp + 1;
    }
    auto has = [&](std::string_view l) {
      for (const auto& x : letters_) {
        if (x == l) return true;
      }
      return false;
    };
    for (std::string_view need : {"a", "u"}) {
      if (!has(need)) {
        throw std::invalid_argument("webcrawl option cdx_fields '" + fields_text_ + "' lacks field '" +
                                    std::string(need) + "' (url and record id are required)");
      }
    }
  }

  // Splits a CDX line by the configured field letters; the first `a` is the URL.
  bool ParseCdx(std::string_view text, CdxLine& c, std::string& why) const {
    std::vector<std::string_view> f;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t sp = text.find(' ', pos);
      if (sp == std::string_view::npos) sp = text.size();
      if (sp > pos) f.push_back(text.substr(pos, sp - pos));
      pos = sp + 1;
    }
    if (f.size() != letters_.size()) {
      why = std::to_string(f.size()) + " fields, the header declares " + std::to_string(letters_.size()) +
            " (" + fields_text_ + ")";
      return false;
    }
    bool url_set = false;
    for (size_t i = 0; i < f.size(); ++i) {
      const std::string& l = letters_[i];
      if (l == "a" && !url_set) {
        c.url = f[i];
        url_set = true;
      } else if (l == "b") {
        c.timestamp = f[i];
        if (c.timestamp.size() != 14 || !ParseUInt(c.timestamp)) {
          why = "timestamp '" + std::string(f[i]) + "' is not YYYYMMDDhhmmss";
          return false;
        }
      } else if (l == "m") {
        c.mime = f[i];
      } else if (l == "s") {
        c.status = f[i];
        if (c.status != "-" && !ParseUInt(c.status)) {
          why = "status '" + std::string(f[i]) + "' is not a number";
          return false;
        }
      } else if (l == "k") {
        c.digest = f[i];
      } else if (l == "V" || l == "v") {
        const auto o = ParseUInt(f[i]);
        if (!o) {
          why = "offset '" + std::string(f[i]) + "' is not a number";
          return false;
        }
        c.offset = *o;
      } else if (l == "g") {
        c.filename = f[i];
      } else if (l == "u") {
        c.record_id = StripAngles(f[i]);
      }
    }
    if (c.url.find("://") == std::string_view::npos) {
      why = "URL '" + std::string(c.url) + "' has no scheme";
      return false;
    }
    if (c.record_id.empty()) {
      why = "empty record id";
      return false;
    }
    return true;
  }

  // After the last CDX line: what the archive still holds (wget ends with metadata and resource
  // records: its log and arguments) is consumed one record a Read() as skips.
  static ReadResult ReadTail(RecordReader& warc) {
    Record rec;
    if (!warc.Next(rec)) return ReadResult::End();  // end of file, or a failure the engine reports
    if (rec.problem != nullptr) {
      return ReadResult::Error(kWarc, "WARC record at offset " + std::to_string(rec.offset) + ": " + rec.problem);
    }
    WarcRecord w;
    std::string why;
    if (!SplitWarc(rec.bytes, w, why)) return ReadResult::Error(kWarc, why);
    if (IsCaptureRecord(w.type)) {
      return ReadResult::Skip("WARC " + std::string(w.type) + " record " + std::string(w.record_id) +
                              " after the last CDX line has no CDX line");
    }
    return ReadResult::Skip("WARC " + std::string(w.type) + " record after the last CDX line");
  }

  // The HTTP header block at the start of a response or request body (status or request line
  // included, through the blank line), or empty when the body does not start with one.
  static std::string_view HttpHeaders(std::string_view body) {
    const size_t end = body.find("\r\n\r\n");
    if (end == std::string_view::npos) return {};
    return body.substr(0, end + 4);
  }

  // The status code of "HTTP/1.x 200 OK".
  static std::optional<int64_t> HttpStatus(std::string_view body) {
    if (body.substr(0, 5) != "HTTP/") return std::nullopt;
    const size_t sp = body.find(' ');
    if (sp == std::string_view::npos || body.size() < sp + 4) return std::nullopt;
    return ParseUInt(body.substr(sp + 1, 3));
  }

  // The text of the first <title>...</title>, whitespace-trimmed (entities are left as written).
  static std::optional<std::string> Title(std::string_view html) {
    const size_t open = IFind(html, "<title");
    if (open == std::string_view::npos) return std::nullopt;
    const size_t gt = html.find('>', open);
    if (gt == std::string_view::npos) return std::nullopt;
    const size_t close = IFind(html, "</title", gt + 1);
    if (close == std::string_view::npos) return std::nullopt;
    return std::string(Trim(html.substr(gt + 1, close - gt - 1)));
  }

  Check check_ = Check::kAuto;
  std::string fields_text_;
  std::vector<std::string> letters_;
};

}  // namespace

// The entry point weir looks for; datasets say `parser: plugin:webcrawl`.
WEIR_PLUGIN("webcrawl", WebcrawlReader,
            "wget crawls: a WARC file and its CDX index, one document per CDX line")
