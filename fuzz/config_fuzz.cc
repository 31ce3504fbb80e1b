// libFuzzer target: the dataset config loader, ParseDatasetConfig(yaml_text, path), on arbitrary
// text. It must return a config or an error Status, never crash, hang or let an exception out
// (yaml-cpp throws; the loader must turn everything into a Status).
// Checks on the result:
//  - an error has a message that names the file;
//  - loading is deterministic (same text -> same result or same message);
//  - a loaded config is consistent: absolute file/dir, a known parser, non-empty unique column
//    names, partition_by naming columns, derived columns naming an existing column, and the
//    Projector accepts its columns (what the loader validates is what the engine needs);
//  - a built-in parser's read.options build a parser (CreateBuiltinParser) or give an error.
//
// Build: make fuzz (fuzz/CMakeLists.txt). Corpus: fuzz/corpus/config_fuzz/ (dataset YAML files).
#include <algorithm>
#include <exception>
#include <set>

#include "core/config.h"
#include "fuzz_util.h"
#include "parse/builtin/builtin_parsers.h"
#include "parse/projector.h"

using namespace weir;

namespace {

constexpr const char* kPath = "/fuzz/datasets/dataset.yaml";

// WEIR_FUZZ_STRICT=1: no allowance for known, reported bugs (to reproduce fuzz/regressions/).
bool Strict() {
  static const bool strict = [] {
    const char* v = std::getenv("WEIR_FUZZ_STRICT");
    return v != nullptr && std::string(v) == "1";
  }();
  return strict;
}

Result<DatasetConfig> Load(const std::string& text) {
  try {
    return ParseDatasetConfig(text, kPath);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ParseDatasetConfig threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "ParseDatasetConfig threw a non-std exception\n");
  }
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const Result<DatasetConfig> r = Load(text);
  const Result<DatasetConfig> r2 = Load(text);
  WEIR_FUZZ_CHECK(r.ok() == r2.ok());
  if (!r.ok()) {
    WEIR_FUZZ_CHECK(r.status().message() == r2.status().message());
    WEIR_FUZZ_CHECK(r.status().message().find("dataset.yaml") != std::string::npos);
    return 0;
  }
  const DatasetConfig& cfg = r.value();
  WEIR_FUZZ_CHECK(cfg.file == r2.value().file && cfg.name == r2.value().name);
  WEIR_FUZZ_CHECK(cfg.write.columns.size() == r2.value().write.columns.size());
  WEIR_FUZZ_CHECK(!cfg.file.empty() && cfg.file.front() == '/');
  WEIR_FUZZ_CHECK(cfg.dir == "/fuzz/datasets");
  const std::string& p = cfg.read.parser;
  WEIR_FUZZ_CHECK(p == "jsonl" || p == "csv" || IsBuiltinParser(p) ||
                  (p.starts_with("plugin:") && p.size() > 7));
  std::set<std::string> names;
  for (const ColumnConfig& c : cfg.write.columns) {
    WEIR_FUZZ_CHECK(!c.name.empty());
    WEIR_FUZZ_CHECK(names.insert(c.name).second);
  }
  for (const ColumnConfig& c : cfg.write.columns) {
    if (c.source != ColumnSource::kPath) WEIR_FUZZ_CHECK(names.count(c.from) == 1);
  }
  // With transforms, partition_by may name a transform's output column (checked at run time).
  if (cfg.transforms.empty()) {
    for (const std::string& k : cfg.write.partition_by) WEIR_FUZZ_CHECK(names.count(k) == 1);
  }

  auto projector = Projector::Create(cfg);
  if (!projector.ok()) {
    std::fprintf(stderr, "loaded config rejected by Projector::Create: %s\n",
                 projector.status().ToString().c_str());
    std::abort();
  }
  WEIR_FUZZ_CHECK(projector.value()->schema().size() == cfg.write.columns.size());
  if (IsBuiltinParser(p)) {
    try {
      auto parser = CreateBuiltinParser(p, cfg.read.options_json);
      WEIR_FUZZ_CHECK(parser.ok() || !parser.status().message().empty());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "CreateBuiltinParser threw: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
