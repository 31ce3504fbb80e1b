// Test plugin whose table is invalid in a way chosen by the environment variable
// WEIR_TEST_TABLE_MODE, read at each call of the entry point (so one library covers every case):
// null_info, no_name, no_parsers, null_name, bad_name, null_create, null_destroy, twice, bad_shape, ok.
#include <weir/sdk.h>

#include <cstdlib>
#include <string>

namespace {

class NullParser : public weir::sdk::Parser {
 public:
  std::string_view file_type() const override { return "null"; }
  weir::sdk::RecordFormat format() const override { return {}; }
  weir::sdk::ParseResult Parse(const weir::sdk::RecordContext&, std::string_view,
                               weir::sdk::Document&) override {
    return weir::sdk::ParseResult::Doc();
  }
};

void* Create(const char*, char*, size_t) {
  return static_cast<weir::sdk::Parser*>(new NullParser());
}
void Destroy(void* p) { delete static_cast<weir::sdk::Parser*>(p); }

weir_plugin_info info;
weir_parser_entry entries[2];

}  // namespace

extern "C" __attribute__((visibility("default"))) const weir_plugin_info* weir_plugin_v1(void) {
  const char* env = std::getenv("WEIR_TEST_TABLE_MODE");
  const std::string mode = env ? env : "ok";
  if (mode == "null_info") return nullptr;
  entries[0] = {"tbl_a", "first", WEIR_SHAPE_PARSER, &Create, &Destroy};
  entries[1] = {"tbl_b", "second", WEIR_SHAPE_PARSER, &Create, &Destroy};
  info = {weir::sdk::kAbiVersion, "tables", entries, 2};
  if (mode == "no_name") info.plugin_name = nullptr;
  if (mode == "no_parsers") info.parser_count = 0;
  if (mode == "null_name") entries[1].name = nullptr;
  if (mode == "bad_name") entries[1].name = "has space";
  if (mode == "null_create") entries[1].create = nullptr;
  if (mode == "null_destroy") entries[0].destroy = nullptr;
  if (mode == "twice") entries[1].name = "tbl_a";
  if (mode == "bad_shape") entries[1].shape = 7;
  return &info;
}
