// Test plugin "echo": a well-behaved plugin built with the WEIR_PLUGIN macro. Each line becomes
// {"line": <text>, "number": <record number>, "file": <file name>}; the line "skip" is skipped and
// the line "bad" is an error. Options: {"prefix": "..."} is prepended to `line`.
#include <weir/sdk.h>

#include <string>

namespace {

class EchoParser : public weir::sdk::Parser {
 public:
  explicit EchoParser(const std::string& options) {
    // Tiny fixed-shape option reading keeps the test plugin free of dependencies.
    const std::string key = "\"prefix\":\"";
    const size_t at = options.find(key);
    if (at != std::string::npos) {
      const size_t begin = at + key.size();
      prefix_ = options.substr(begin, options.find('"', begin) - begin);
    }
  }
  std::string_view file_type() const override { return "echo"; }
  weir::sdk::RecordFormat format() const override { return {}; }
  weir::sdk::ParseResult Parse(const weir::sdk::RecordContext& ctx, std::string_view record,
                               weir::sdk::Document& doc) override {
    if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
    if (record == "skip") return weir::sdk::ParseResult::Skip("asked to skip");
    if (record == "bad") return weir::sdk::ParseResult::Error("asked to fail");
    doc.Set("line", prefix_ + std::string(record));
    doc.SetInt("number", static_cast<int64_t>(ctx.record_number));
    doc.Set("file", ctx.file_name);
    return weir::sdk::ParseResult::Doc();
  }

 private:
  std::string prefix_;
};

}  // namespace

WEIR_PLUGIN("echo", EchoParser, "echoes each line")
