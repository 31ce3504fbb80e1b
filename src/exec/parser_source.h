// Where a dataset's SDK parsers come from: a built-in (`lines`, `regex`) or a plugin library
// (`parser: plugin:NAME` with `plugins: [lib.so]`). jsonl and csv do not use the SDK path.
//
// Create() loads the plugins and checks the options by building one parser up front, so a bad
// plugin or bad options fail the run before any task starts, with the config key in the message.
// Ownership: owns the plugin registry (libraries stay loaded for the process lifetime).
// Thread-safety: NewParser() may be called from any worker thread; each gets its own parser.
#pragma once

#include <memory>
#include <optional>
#include <string>

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
  Result<ParserPtr> NewParser() const;
  // The record format of the parser, validated.
  const sdk::RecordFormat& format() const { return format_; }

 private:
  ParserSource() = default;
  std::unique_ptr<PluginRegistry> registry_;
  std::optional<ParserFactory> factory_;
  std::string builtin_;
  std::string options_;
  sdk::RecordFormat format_;
};

}  // namespace weir
