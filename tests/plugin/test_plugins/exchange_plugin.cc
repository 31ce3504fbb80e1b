// Test plugin "exchange": a state machine parser (SDK shape 2) over files of request, response
// and metadata records in that fixed order:
//   REQ <id> <url>\n                         request   (patterns "REQ " .. "\n")
//   RESP <id> <status> <length>\n<body>\n    response  (header "RESP " .. "\n", body, trailer "\n")
//   META <id> ms=<n>\n                       metadata  (patterns "META " .. "\n")
// One document per exchange: {id, url, status, body, ms, prev_type, prev_offset} (the last two
// describe the record before the request, as the engine passed it). The response and metadata records are
// checked against the PREVIOUS record (same id), which is what the engine's context is for.
// Options: {"max_status": N} makes exchanges whose status is above N fail at the response record
// (default 599): Fail(), so the error spans the whole exchange and a redrive re-reads all of it.
#include <weir/sdk.h>

#include <cstdlib>
#include <string>

namespace {

using weir::sdk::Document;
using weir::sdk::ParseResult;
using weir::sdk::PreviousRecord;
using weir::sdk::RecordContext;
using weir::sdk::RecordFormat;
using weir::sdk::RecordType;

// The n-th space-separated field of a record line (without its newline), or "".
std::string Field(std::string_view rec, int n) {
  const size_t nl = rec.find('\n');
  if (nl != std::string_view::npos) rec = rec.substr(0, nl);
  size_t pos = 0;
  for (int i = 0; i < n; ++i) {
    pos = rec.find(' ', pos);
    if (pos == std::string_view::npos) return "";
    ++pos;
  }
  const size_t end = rec.find(' ', pos);
  return std::string(rec.substr(pos, end == std::string_view::npos ? rec.size() - pos : end - pos));
}

bool AllDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

class ExchangeParser : public weir::sdk::StateMachineParser {
 public:
  enum Type { kRequest = 0, kResponse = 1, kMetadata = 2 };
  explicit ExchangeParser(const std::string& options) {
    const std::string key = "\"max_status\":";
    const size_t at = options.find(key);
    if (at != std::string::npos) max_status_ = std::atoll(options.c_str() + at + key.size());
  }
  std::string_view file_type() const override { return "exchange-log"; }
  std::vector<RecordType> record_types() const override {
    RecordFormat req;
    req.start = "REQ ";
    req.end = "\n";
    RecordFormat resp;
    resp.kind = RecordFormat::Kind::kHeaderBody;
    resp.start = "RESP ";
    resp.end = "\n";
    resp.trailer = "\n";
    RecordFormat meta;
    meta.start = "META ";
    meta.end = "\n";
    return {{"request", req}, {"response", resp}, {"metadata", meta}};
  }
  int NextType(int previous) const override { return previous < 0 ? kRequest : (previous + 1) % 3; }
  int64_t BodyLength(int type, std::string_view header) const override {
    if (type != kResponse) return -1;
    const std::string len = Field(header, 3);
    return AllDigits(len) ? std::atoll(len.c_str()) : -1;
  }
  ParseResult Parse(const RecordContext&, int type, std::string_view record,
                    const PreviousRecord& previous, Document& doc) override {
    const std::string id = Field(record, 1);
    if (!AllDigits(id)) return ParseResult::Error("bad id '" + id + "'");
    switch (type) {
      case kRequest: {
        const std::string url = Field(record, 2);
        if (url.empty()) return ParseResult::Error("request without url");
        doc.SetInt("id", std::atoll(id.c_str()));
        doc.Set("url", url);
        // The context the engine gave, so tests can see it survives checkpoints and restarts.
        doc.SetInt("prev_type", previous.type);
        doc.SetInt("prev_offset", static_cast<int64_t>(previous.offset));
        return ParseResult::Continue();
      }
      case kResponse: {
        if (previous.type != kRequest || Field(previous.bytes, 1) != id) {
          return ParseResult::Error("response " + id + " does not follow its request");
        }
        const std::string status = Field(record, 2);
        if (!AllDigits(status)) return ParseResult::Error("bad status '" + status + "'");
        const int64_t s = std::atoll(status.c_str());
        if (s > max_status_) {
          // The exchange still ends at its metadata record: fail the document, do not end it.
          return ParseResult::Fail("status " + status + " above max_status " +
                                   std::to_string(max_status_));
        }
        doc.SetInt("status", s);
        const size_t nl = record.find('\n');
        std::string_view body = record.substr(nl + 1);
        body.remove_suffix(1);  // the trailer
        doc.Set("body", body);
        return ParseResult::Continue();
      }
      default: {
        if (previous.type != kResponse || Field(previous.bytes, 1) != id) {
          return ParseResult::Error("metadata " + id + " does not follow its response");
        }
        const std::string ms = Field(record, 2);
        if (ms.rfind("ms=", 0) != 0 || !AllDigits(ms.substr(3))) {
          return ParseResult::Error("bad metadata '" + ms + "'");
        }
        doc.SetInt("ms", std::atoll(ms.c_str() + 3));
        return ParseResult::Doc();
      }
    }
  }

 private:
  int64_t max_status_ = 599;
};

}  // namespace

WEIR_PLUGIN("exchange", ExchangeParser, "request/response/metadata exchanges (state machine)")
