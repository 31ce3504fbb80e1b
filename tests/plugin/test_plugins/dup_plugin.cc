// Test plugin that provides a parser named "echo" like echo_plugin.cc: loading both must fail.
#include <weir/sdk.h>

#include <string>

namespace {

class OtherEcho : public weir::sdk::Parser {
 public:
  explicit OtherEcho(const std::string&) {}
  std::string_view file_type() const override { return "other"; }
  weir::sdk::RecordFormat format() const override { return {}; }
  weir::sdk::ParseResult Parse(const weir::sdk::RecordContext&, std::string_view,
                               weir::sdk::Document&) override {
    return weir::sdk::ParseResult::Doc();
  }
};

}  // namespace

WEIR_PLUGIN("echo", OtherEcho, "a second parser called echo")
