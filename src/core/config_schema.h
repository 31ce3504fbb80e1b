// The dataset YAML schema as data: one table per map of the file (key, kind, required, default,
// description, allowed values, range). The loader (config.cc) uses these tables for the
// unknown-key check ("did you mean"), the required-key check, value ranges, enum values and the
// defaults it applies; DatasetSchemaReference() renders the same tables as Markdown for
// docs/dataset-yaml.md, `weir --help` and the console. Changing a default or a range here changes
// the loader and the reference together.
//
// Ownership: the tables are immutable statics built on first use and live for the whole process.
// Thread-safety: safe to read from any thread (built once under the function-local static lock).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir {

enum class ValueKind {
  kString,          // any non-empty scalar
  kName,            // [A-Za-z0-9_.-]+
  kIdentifier,      // [A-Za-z_][A-Za-z0-9_]*
  kPath,            // file or folder path; relative to the YAML file's folder
  kEnum,            // one of `choices`
  kBool,            // true | false
  kInt,             // integer, optionally within [min, max]
  kNumber,          // real number, optionally within [min, max]
  kSize,            // byte count: integer, or a string with unit (KB, MB, GB, KiB, MiB, GiB, ...)
  kDuration,        // a number with a unit: 500ms, 30s, 5m, 12h, 7d, 2w
  kChar,            // one character ("\t" allowed)
  kMap,             // a nested map, described by its own MapSpec (path = parent.key)
  kColumns,         // map of column name -> column map (MapSpec "write.columns.<name>")
  kIdentifierList,  // list of column names
  kPathList,        // list of paths
  kStringList,      // list of non-empty strings
  kTransformList,   // list of one-key maps (MapSpec "transforms[]")
  kOptions,         // free-form map handed to the parser as JSON; the parser validates it
  kManifest,        // a path, or a map (MapSpec "read.manifest": a listing)
  kMapList,         // list of maps, each described by MapSpec "<path>[]"
  kStringMap,       // map of name -> string (rules: aggregates, emit)
};

// One key of a map.
struct KeySpec {
  std::string_view name;
  ValueKind kind = ValueKind::kString;
  bool required = false;
  // YAML text of the value applied when the key is absent (parsed by the same code as a written
  // value); empty: no default.
  std::string_view default_value;
  std::string_view description;
  std::vector<std::string_view> choices;  // kEnum
  std::string_view noun;                  // kEnum: "'x' is not a <noun>"; empty: "valid value"
  std::optional<double> min;              // kInt, kNumber
  std::optional<double> max;
  bool min_exclusive = false;

  KeySpec& Choices(std::vector<std::string_view> c, std::string_view n = {}) {
    choices = std::move(c);
    noun = n;
    return *this;
  }
  KeySpec& Range(std::optional<double> lo, std::optional<double> hi, bool lo_exclusive = false) {
    min = lo;
    max = hi;
    min_exclusive = lo_exclusive;
    return *this;
  }
  // "integer 1..256", "one of `parquet`, `jsonl`", ... for the reference and messages.
  std::string TypeText() const;
  std::vector<std::string> ChoiceNames() const;
};

// One map of the file.
struct MapSpec {
  std::string_view path;  // "" for the document, "read", "write.columns.<name>", "transforms[]"
  std::string_view description;
  std::vector<KeySpec> keys;

  const KeySpec* Find(std::string_view name) const;
  std::vector<std::string> KeyNames() const;
};

// All maps, in reference order.
const std::vector<MapSpec>& DatasetSchema();
// The map with this path; a programming error (abort) if there is none.
const MapSpec& DatasetMapSpec(std::string_view path);

}  // namespace weir
