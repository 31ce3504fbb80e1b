// Test plugin "pair": a multi-file reader (SDK shape 3) over two line files, "A" and "B", read in
// step. Each line is "<key> <value>"; the n-th lines of both files must have the same key and
// become one document {key, a, b}. When A ends, Read() returns End() even if B has lines left
// (the engine must then report them). Options (for engine tests):
//   {"stall_on": "<key>"}  Read() returns a document without consuming anything at that key
//   {"throw_on": "<key>"}  Read() throws after consuming A's line with that key
//   {"strict": false}      keys may differ (the document takes A's key)
#include <weir/sdk.h>

#include <stdexcept>
#include <string>

namespace {

using weir::sdk::Document;
using weir::sdk::ReadResult;
using weir::sdk::Record;
using weir::sdk::RecordReader;
using weir::sdk::RecordType;

std::string Option(const std::string& options, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const size_t at = options.find(key);
  if (at == std::string::npos) return "";
  const size_t b = at + key.size();
  return options.substr(b, options.find('"', b) - b);
}

std::string_view Line(std::string_view rec) {
  if (!rec.empty() && rec.back() == '\n') rec.remove_suffix(1);
  return rec;
}
std::string Key(std::string_view rec) {
  rec = Line(rec);
  return std::string(rec.substr(0, rec.find(' ')));
}
std::string Value(std::string_view rec) {
  rec = Line(rec);
  const size_t sp = rec.find(' ');
  return sp == std::string_view::npos ? "" : std::string(rec.substr(sp + 1));
}

class PairReader : public weir::sdk::MultiFileReader {
 public:
  explicit PairReader(const std::string& options)
      : stall_on_(Option(options, "stall_on")), throw_on_(Option(options, "throw_on")),
        strict_(options.find("\"strict\":false") == std::string::npos) {}
  std::vector<RecordType> file_types() const override {
    weir::sdk::RecordFormat lines;  // empty start, "\n" end: one record per line
    return {{"A", lines}, {"B", lines}};
  }
  ReadResult Read(const std::vector<RecordReader*>& readers, Document& doc) override {
    RecordReader& a = *readers[0];
    RecordReader& b = *readers[1];
    Record ra, rb;
    if (!a.Peek(ra)) return ReadResult::End();
    if (!stall_on_.empty() && Key(ra.bytes) == stall_on_) return ReadResult::Doc();
    a.Next(ra);
    if (ra.problem != nullptr) return ReadResult::Error(0, ra.problem);
    const std::string key = Key(ra.bytes), a_value = Value(ra.bytes);
    if (!throw_on_.empty() && key == throw_on_) throw std::runtime_error("boom at " + key);
    if (!b.Next(rb)) return ReadResult::Error(1, "B has no line for key " + key);
    if (rb.problem != nullptr) return ReadResult::Error(1, rb.problem);
    if (strict_ && Key(rb.bytes) != key) {
      return ReadResult::Error(-1, "key mismatch: A has " + key + ", B has " + Key(rb.bytes));
    }
    doc.Set("key", key);
    doc.Set("a", a_value);
    doc.Set("b", Value(rb.bytes));
    return ReadResult::Doc();
  }

 private:
  std::string stall_on_, throw_on_;
  bool strict_;
};

}  // namespace

WEIR_PLUGIN("pair", PairReader, "two line files read in step (multi-file reader)")
