// Parser plugins: loading shared libraries that implement the SDK (include/weir/sdk.h), finding
// their parsers by name, creating parser instances, and guarding every call into user code.
//
// Usage (one registry per process, filled before workers start):
//
//   PluginRegistry registry;
//   WEIR_RETURN_IF_ERROR(registry.Load("/abs/or/relative/liblogfile.so"));
//   WEIR_ASSIGN_OR_RETURN(ParserFactory factory, registry.Find("logfile"));
//   // one parser per worker thread:
//   WEIR_ASSIGN_OR_RETURN(ParserPtr parser, factory.Create(R"({"min_level":"INFO"})"));
//   WEIR_ASSIGN_OR_RETURN(sdk::RecordFormat format, SafeFormat(*parser));
//   sdk::ParseResult r = SafeParse(*parser, ctx, record, doc);
//
// A plugin may be written by anyone, so nothing it does may crash or silently corrupt the engine
// when it can be detected: the loader validates the exported table (ABI version first, then every
// pointer and name) and the Safe* guards turn exceptions escaping user code into per-record errors
// (Parse) or Status (everything else).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "parse/pattern_splitter.h"  // ValidateRecordFormat, used by SafeFormat
#include "weir/sdk.h"
#include "weir/status.h"

namespace weir {

// Destroys a plugin instance with the `destroy` function of the plugin that created it, so the
// memory is freed by the allocator that allocated it (the plugin may link its own C++ runtime
// statically). A null `destroy` means the instance was made in-process with `new` (a built-in):
// it is deleted. T is the shape's base class (sdk::Parser, StateMachineParser, MultiFileReader);
// `create` returned a T* as void*, so handing the T* back as void* gives the same pointer.
template <class T>
struct PluginDeleter {
  void (*destroy)(void*) = nullptr;
  void operator()(T* instance) const noexcept {
    if (instance == nullptr) return;
    // A destructor that throws would otherwise terminate the process from inside the plugin.
    try {
      if (destroy != nullptr) {
        destroy(static_cast<void*>(instance));
      } else {
        delete instance;
      }
    } catch (...) {
    }
  }
};
using ParserDeleter = PluginDeleter<sdk::Parser>;
using ParserPtr = std::unique_ptr<sdk::Parser, ParserDeleter>;
using StateMachinePtr =
    std::unique_ptr<sdk::StateMachineParser, PluginDeleter<sdk::StateMachineParser>>;
using MultiFileReaderPtr =
    std::unique_ptr<sdk::MultiFileReader, PluginDeleter<sdk::MultiFileReader>>;

// The reader shapes of the SDK (values of weir_parser_entry::shape).
enum class Shape : uint32_t {
  kParser = WEIR_SHAPE_PARSER,
  kStateMachine = WEIR_SHAPE_STATE_MACHINE,
  kMultiFile = WEIR_SHAPE_MULTI_FILE,
};
const char* ShapeName(Shape shape);  // "parser", "state machine parser", "multi-file reader"

// One parser that a loaded plugin provides: its name, description and the functions to create and
// destroy instances.
// Ownership: a small value (two strings, a path and two function pointers); copies are cheap and
// independent. The functions live in a library that is never unloaded (see PluginRegistry), so a
// factory stays valid for the whole process, even after its registry is gone.
// Thread-safety: const methods may be called from any thread; Create() gives each caller its own
// parser.
class ParserFactory {
 public:
  // The name datasets use after `plugin:`.
  const std::string& name() const { return name_; }
  const std::string& description() const { return description_; }
  // `plugin_name` from the plugin's table, and the file it was loaded from (for messages).
  const std::string& plugin_name() const { return plugin_name_; }
  const std::string& plugin_path() const { return plugin_path_; }

  // A default-constructed factory is empty (Create() gives Internal); real ones come from
  // PluginRegistry::Find() or List().
  ParserFactory() = default;

  // Which SDK class the plugin's parser implements; only the matching Create* works.
  Shape shape() const { return shape_; }

  // A new instance configured by `options_json` (the dataset's `read.options` as JSON text;
  // "{}" when there are none). A parser that rejects its options gives InvalidArgument with the
  // plugin's own message; asking for the wrong shape gives InvalidArgument naming both.
  Result<ParserPtr> Create(const std::string& options_json) const;
  Result<StateMachinePtr> CreateStateMachine(const std::string& options_json) const;
  Result<MultiFileReaderPtr> CreateMultiFile(const std::string& options_json) const;

 private:
  friend class PluginRegistry;
  Result<void*> CreateRaw(const std::string& options_json, Shape want) const;
  std::string name_;
  std::string description_;
  std::string plugin_name_;
  std::string plugin_path_;
  Shape shape_ = Shape::kParser;
  void* (*create_)(const char*, char*, size_t) = nullptr;
  void (*destroy_)(void*) = nullptr;
};

// The parser plugins of a process. Load() opens a shared library, checks its ABI version and its
// table, and registers its parsers; Find() looks a parser up by name.
// Ownership: libraries that loaded successfully are never closed (not even by the destructor),
// because parsers and factories handed out may outlive the registry and their code and vtables
// live in the library; a library rejected by Load() is closed again.
// Thread-safety: every method is thread-safe (an internal mutex); the intended pattern is to load
// everything at start-up, then call Find() from any thread.
class PluginRegistry {
 public:
  PluginRegistry() = default;
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  // Loads the plugin at `path` (relative paths are relative to the current directory, never
  // searched in the library path). Loading the same library again is a no-op. Errors name the
  // path: a missing or unloadable file, a missing `weir_plugin_v1` symbol, an ABI version that
  // differs from sdk::kAbiVersion, an invalid table, or a parser name that another loaded plugin
  // already provides. On error nothing is registered.
  Status Load(const std::string& path);

  // The parser called `name` (without the `plugin:` prefix). NotFound lists the loaded parsers
  // and suggests the closest name.
  Result<ParserFactory> Find(const std::string& name) const;

  // Every loaded parser, sorted by name.
  std::vector<ParserFactory> List() const;

 private:
  struct Library {
    void* handle;
    std::string path;
  };
  mutable std::mutex mu_;
  std::vector<Library> libraries_;      // guarded by mu_
  std::vector<ParserFactory> parsers_;  // guarded by mu_
};

// ---- guards around calls into user code ----------------------------------------------------
// Each catches std::exception and anything else thrown by the plugin. The SDK says "never
// throw", but one bad record must not take down a run, and exceptions must never cross threads.

// Parse() of one record; an exception becomes ParseResult::Error("parser threw: <what>") so it is
// an error record for that record like any other.
sdk::ParseResult SafeParse(sdk::Parser& parser, const sdk::RecordContext& ctx,
                           std::string_view record, sdk::Document& doc);

// format(), checked with ValidateRecordFormat() of parse/pattern_splitter.h: a parser with an
// unusable format cannot read any file, so this is an InvalidArgument for the whole task.
Result<sdk::RecordFormat> SafeFormat(const sdk::Parser& parser);

// file_type() copied out (the view is only valid while the parser lives).
Result<std::string> SafeFileType(const sdk::Parser& parser);

// BodyLength(header). A negative value means "malformed header" and is returned as is; only an
// exception is an error (InvalidArgument naming the exception).
Result<int64_t> SafeBodyLength(const sdk::Parser& parser, std::string_view header);

// ResolvePath(manifest_entry); an exception or an empty result is an error naming the entry.
Result<std::string> SafeResolvePath(const sdk::Parser& parser, std::string_view manifest_entry);

// The message of the exception being handled; only call inside a catch block. For the engine's
// own guards around the other shapes' calls.
std::string CurrentExceptionMessage();

// Runs `fn` (a call into plugin code) and turns an exception into InvalidArgument
// "<what> threw: <message>".
template <class Fn>
Status GuardPluginCall(const char* what, Fn&& fn) {
  try {
    fn();
    return Status::OK();
  } catch (...) {
    return Status::Invalid(std::string(what) + " threw: " + CurrentExceptionMessage());
  }
}

}  // namespace weir
