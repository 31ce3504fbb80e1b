#include "parse/builtin/builtin_parsers.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/text_util.h"
#include "parse/builtin/lines_parser.h"
#include "parse/builtin/regex_parser.h"
#include "parse/builtin/warc_parser.h"

namespace weir {
namespace {

// Parses `options_json` into an object and rejects keys not in `known`, so a typo such as
// "presets" fails at start-up instead of being ignored.
Result<nlohmann::json> ParseOptions(const std::string& parser, const std::string& options_json,
                                    const std::vector<std::string>& known) {
  nlohmann::json j;
  if (options_json.empty()) {
    j = nlohmann::json::object();
  } else {
    j = nlohmann::json::parse(options_json, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return Status::Invalid("parser '" + parser + "': read.options is not valid JSON");
    }
    if (j.is_null()) j = nlohmann::json::object();
  }
  if (!j.is_object()) {
    return Status::Invalid("parser '" + parser + "': read.options must be a mapping of options");
  }
  for (const auto& [key, value] : j.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Status::Invalid(
          "parser '" + parser + "': unknown option '" + key + "'" + DidYouMean(key, known) +
          (known.empty() ? " (it takes no options)" : " (known: " + JoinNames(known) + ")"));
    }
  }
  return j;
}

Result<std::string> StringOption(const std::string& parser, const nlohmann::json& j,
                                 const std::string& key) {
  if (!j.contains(key)) return std::string();
  const nlohmann::json& v = j.at(key);
  if (!v.is_string()) {
    return Status::Invalid("parser '" + parser + "': option '" + key + "' must be a string");
  }
  std::string s = v.get<std::string>();
  if (s.empty()) {
    return Status::Invalid("parser '" + parser + "': option '" + key + "' is empty");
  }
  return s;
}

}  // namespace

const std::vector<std::string>& BuiltinParserNames() {
  static const std::vector<std::string> kNames = {"lines", "regex", "warc"};
  return kNames;
}

bool IsBuiltinParser(std::string_view name) {
  const auto& names = BuiltinParserNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

Result<std::unique_ptr<sdk::Parser>> CreateBuiltinParser(const std::string& name,
                                                         const std::string& options_json) {
  if (name == "lines") {
    WEIR_ASSIGN_OR_RETURN(nlohmann::json opts, ParseOptions(name, options_json, {}));
    (void)opts;
    return std::unique_ptr<sdk::Parser>(std::make_unique<builtin::LinesParser>());
  }
  if (name == "regex") {
    WEIR_ASSIGN_OR_RETURN(nlohmann::json opts,
                          ParseOptions(name, options_json, {"pattern", "preset"}));
    WEIR_ASSIGN_OR_RETURN(std::string pattern, StringOption(name, opts, "pattern"));
    WEIR_ASSIGN_OR_RETURN(std::string preset, StringOption(name, opts, "preset"));
    WEIR_ASSIGN_OR_RETURN(std::unique_ptr<builtin::RegexParser> p,
                          builtin::RegexParser::Create(pattern, preset));
    return std::unique_ptr<sdk::Parser>(std::move(p));
  }
  if (name == "warc") return builtin::CreateWarcParser(options_json);
  return Status::Invalid("unknown built-in parser '" + name + "'" +
                         DidYouMean(name, BuiltinParserNames()) +
                         " (built-in: " + JoinNames(BuiltinParserNames()) + ")");
}

}  // namespace weir
