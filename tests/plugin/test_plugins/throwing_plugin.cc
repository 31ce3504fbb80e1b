// Test plugin "thrower": every method can throw, to exercise the engine's guards. Parse throws a
// std::runtime_error for the line "std", an int for the line "int", else returns a document.
// Options {"throw_in": "format" | "file_type" | "body_length" | "resolve_path"} make that method
// throw instead of working.
#include <weir/sdk.h>

#include <stdexcept>
#include <string>

namespace {

class ThrowingParser : public weir::sdk::Parser {
 public:
  explicit ThrowingParser(const std::string& options) : options_(options) {}
  std::string_view file_type() const override {
    if (Wants("file_type")) throw std::runtime_error("file_type exploded");
    return "thrower";
  }
  weir::sdk::RecordFormat format() const override {
    if (Wants("format")) throw std::runtime_error("format exploded");
    return {};
  }
  int64_t BodyLength(std::string_view header) const override {
    if (Wants("body_length")) throw std::out_of_range("body_length exploded");
    return static_cast<int64_t>(header.size());
  }
  std::string ResolvePath(std::string_view entry) const override {
    if (Wants("resolve_path")) throw 7;
    return "resolved/" + std::string(entry);
  }
  weir::sdk::ParseResult Parse(const weir::sdk::RecordContext& ctx, std::string_view record,
                               weir::sdk::Document& doc) override {
    if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
    doc.Set("partial", "yes");  // a half-built document before the throw
    if (record == "std") {
      throw std::runtime_error("boom at record " + std::to_string(ctx.record_number));
    }
    if (record == "int") throw 42;
    doc.Set("line", record);
    return weir::sdk::ParseResult::Doc();
  }

 private:
  bool Wants(std::string_view what) const {
    return options_.find("\"throw_in\":\"" + std::string(what) + "\"") != std::string::npos;
  }
  std::string options_;
};

}  // namespace

WEIR_PLUGIN("thrower", ThrowingParser, "throws from every method on request")
