// Test plugin "picky": its constructor rejects any options except {} by throwing, the way the
// SDK tells plugins to reject options; a non-std exception is thrown for {"weird":1}.
#include <weir/sdk.h>

#include <stdexcept>
#include <string>

namespace {

class PickyParser : public weir::sdk::Parser {
 public:
  explicit PickyParser(const std::string& options) {
    if (options == "{\"weird\":1}") throw 3;
    if (options != "{}") {
      throw std::invalid_argument("unknown option in " + options + " (picky takes no options)");
    }
  }
  std::string_view file_type() const override { return "picky"; }
  weir::sdk::RecordFormat format() const override { return {}; }
  weir::sdk::ParseResult Parse(const weir::sdk::RecordContext&, std::string_view,
                               weir::sdk::Document&) override {
    return weir::sdk::ParseResult::Doc();
  }
};

}  // namespace

WEIR_PLUGIN("picky", PickyParser, "rejects every option")
