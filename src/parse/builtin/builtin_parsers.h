// Built-in parsers: the record formats weir reads without a plugin, as sdk::Parser
// implementations, so the runner drives them exactly like a plugin's parser (pattern splitter
// built from format(), Parse() per record into an sdk::Document, Projector::ProjectDocument()).
//
//   lines  each line is a document {"line": "<text without \n or \r\n>"}; an empty line is
//          skipped ("blank line"). Options: none ({}).
//   regex  each line is matched, whole, against an RE2 regular expression; every named group
//          (?P<name>...) becomes a string field /name of the document (a group that did not take
//          part in the match is null). Options: exactly one of
//            {"pattern": "<RE2 syntax with named groups>"}
//            {"preset": "apache_common" | "apache_combined" | "nginx_combined"}
//          A line that does not match is an error record; an empty line is skipped.
//
// jsonl and csv are not here: the Projector parses them directly (simdjson / a CSV splitter).
// Documents built by these parsers carry text; the projector parses numeric text strictly for
// numeric columns (see parse/projector.h).
//
// Thread-safety: the functions are pure; each parser they create is for one thread (sdk.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weir/sdk.h"
#include "weir/status.h"

namespace weir {

// Names of the built-in sdk parsers, in documentation order ("lines", "regex").
const std::vector<std::string>& BuiltinParserNames();

// True when `name` is one of BuiltinParserNames().
bool IsBuiltinParser(std::string_view name);

// Creates a built-in parser. `options_json` is the dataset's read.options as JSON text (an
// object; "" means {}). Unknown parser names, unknown option keys, wrong option types and bad
// regular expressions are errors whose message names the option.
Result<std::unique_ptr<sdk::Parser>> CreateBuiltinParser(const std::string& name,
                                                         const std::string& options_json);

}  // namespace weir
