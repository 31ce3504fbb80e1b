// Where a dataset's SDK parsers come from: a built-in (`lines`, `regex`, `warc`) or a plugin
// library (`parser: plugin:NAME` with `plugins: [lib.so]`), in any of the SDK's three shapes
// (sdk::Parser, StateMachineParser, MultiFileReader). jsonl and csv do not use the SDK path.
//
// Create() loads the plugins and checks the options by building one instance up front, so a bad
// plugin or bad options fail the run before any task starts, with the config key in the message;
// it also fetches and validates the record formats (one for a Parser, one per record type of a
// state machine, one per file type of a multi-file reader). With read.multiline, the format of a
// line-based Parser becomes RecordFormat::StartRegex (other parsers are refused).
// Ownership: owns the plugin registry (libraries stay loaded for the process lifetime).
// Thread-safety: the New*() methods may be called from any worker thread; each gets its own
// instance.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "plugin/plugin_loader.h"
#include "weir/sdk.h"
#include "weir/status.h"

namespace weir {

class ParserSource {
 public:
  // True when the dataset's parser goes through the SDK (everything but jsonl and csv).
  static bool UsesSdk(const DatasetConfig& config);
  static Result<std::unique_ptr<ParserSource>> Create(const DatasetConfig& config);

  Shape shape() const { return shape_; }
  // One new instance of the dataset's parser; only the one matching shape() works.
  Result<ParserPtr> NewParser() const;
  Result<StateMachinePtr> NewStateMachine() const;
  Result<MultiFileReaderPtr> NewMultiFile() const;

  // kParser: the record format of the parser, validated.
  const sdk::RecordFormat& format() const { return types_.front().format; }
  // kStateMachine: the record types; kMultiFile: the file types (names unique, formats valid).
  const std::vector<sdk::RecordType>& types() const { return types_; }
  // The parser's file type (kParser, kStateMachine).
  const std::string& file_type() const { return file_type_; }

 private:
  ParserSource() = default;
  Status ApplyMultiline(const DatasetConfig& config);
  std::unique_ptr<PluginRegistry> registry_;
  std::optional<ParserFactory> factory_;
  std::string builtin_;
  std::string options_;
  std::string options_where_ = "read.options";  // "file:line: read.options" for option errors
  Shape shape_ = Shape::kParser;
  std::vector<sdk::RecordType> types_;
  std::string file_type_;
};

}  // namespace weir
