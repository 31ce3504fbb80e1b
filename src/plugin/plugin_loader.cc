#include "plugin/plugin_loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <filesystem>
#include <system_error>

#include "core/text_util.h"

namespace weir {
namespace {

constexpr char kEntrySymbol[] = "weir_plugin_v1";
constexpr size_t kCreateErrorLen = 1024;

// Parser names appear in dataset files (`parser: plugin:<name>`), messages and the console, so
// they are restricted to the characters of dataset names.
bool IsValidParserName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

std::string DlError() {
  const char* e = dlerror();
  return e ? std::string(e) : std::string("unknown dlopen error");
}

}  // namespace

std::string CurrentExceptionMessage() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

const char* ShapeName(Shape shape) {
  switch (shape) {
    case Shape::kParser: return "parser";
    case Shape::kStateMachine: return "state machine parser";
    case Shape::kMultiFile: return "multi-file reader";
  }
  return "unknown shape";
}

Result<void*> ParserFactory::CreateRaw(const std::string& options_json, Shape want) const {
  if (create_ == nullptr) return Status::Internal("ParserFactory::Create on an empty factory");
  if (shape_ != want) {
    return Status::Invalid("plugin parser '" + name_ + "' (" + plugin_path_ + ") is a " +
                           ShapeName(shape_) + ", used here as a " + ShapeName(want));
  }
  std::array<char, kCreateErrorLen> err{};
  void* raw = nullptr;
  // create() is C linkage and WEIR_PLUGIN catches inside it, but a hand-written entry might not.
  try {
    raw = create_(options_json.c_str(), err.data(), err.size());
  } catch (...) {
    return Status::Invalid("plugin parser '" + name_ + "' (" + plugin_path_ +
                           "): create threw: " + CurrentExceptionMessage());
  }
  err.back() = '\0';  // never trust the plugin to terminate the message
  if (raw == nullptr) {
    std::string msg(err.data());
    if (msg.empty()) msg = "create returned no parser and gave no reason";
    return Status::Invalid("plugin parser '" + name_ + "' (" + plugin_path_ +
                           ") rejected its options " + options_json + ": " + msg);
  }
  return raw;
}

Result<ParserPtr> ParserFactory::Create(const std::string& options_json) const {
  WEIR_ASSIGN_OR_RETURN(void* raw, CreateRaw(options_json, Shape::kParser));
  return ParserPtr(static_cast<sdk::Parser*>(raw), ParserDeleter{destroy_});
}

Result<StateMachinePtr> ParserFactory::CreateStateMachine(const std::string& options_json) const {
  WEIR_ASSIGN_OR_RETURN(void* raw, CreateRaw(options_json, Shape::kStateMachine));
  return StateMachinePtr(static_cast<sdk::StateMachineParser*>(raw),
                         PluginDeleter<sdk::StateMachineParser>{destroy_});
}

Result<MultiFileReaderPtr> ParserFactory::CreateMultiFile(const std::string& options_json) const {
  WEIR_ASSIGN_OR_RETURN(void* raw, CreateRaw(options_json, Shape::kMultiFile));
  return MultiFileReaderPtr(static_cast<sdk::MultiFileReader*>(raw),
                            PluginDeleter<sdk::MultiFileReader>{destroy_});
}

Status PluginRegistry::Load(const std::string& path) {
  std::error_code ec;
  // dlopen() searches LD_LIBRARY_PATH and the system directories for a name without a slash;
  // an absolute path makes the dataset's `plugins:` entry mean exactly that file.
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  if (ec) return Status::Invalid("plugin " + path + ": " + ec.message());
  const std::string where = "plugin " + abs.string();
  if (!std::filesystem::exists(abs, ec)) {
    return Status::NotFound(where + ": file not found");
  }
  if (std::filesystem::is_directory(abs, ec)) {
    return Status::Invalid(where + ": is a directory, not a shared library");
  }

  std::lock_guard<std::mutex> lock(mu_);
  dlerror();  // clear any stale error
  void* handle = dlopen(abs.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return Status::Invalid(where + ": cannot load shared library: " + DlError());
  }
  for (const Library& lib : libraries_) {
    if (lib.handle == handle) {
      // Same library (maybe by another path): already registered; drop the extra reference.
      dlclose(handle);
      return Status::OK();
    }
  }
  // Any failure below unloads the library again: nothing of it has been handed out yet.
  auto reject = [&](Status st) {
    dlclose(handle);
    return st;
  };

  dlerror();
  void* sym = dlsym(handle, kEntrySymbol);
  if (sym == nullptr) {
    return reject(Status::Invalid(
        where + ": not a weir plugin: it does not export the entry point '" + kEntrySymbol +
        "' (define it with the WEIR_PLUGIN macro of weir/sdk.h, with default visibility)"));
  }
  auto entry = reinterpret_cast<weir_plugin_entry_fn>(sym);
  const weir_plugin_info* info = nullptr;
  try {
    info = entry();
  } catch (...) {
    return reject(
        Status::Invalid(where + ": " + kEntrySymbol + "() threw: " + CurrentExceptionMessage()));
  }
  if (info == nullptr) {
    return reject(Status::Invalid(where + ": " + kEntrySymbol + "() returned no plugin table"));
  }
  // Only abi_version is read before the check: another version may lay the table out otherwise.
  if (info->abi_version != sdk::kAbiVersion) {
    return reject(Status::Invalid(
        where + ": plugin ABI version " + std::to_string(info->abi_version) +
        " does not match this weir's ABI version " + std::to_string(sdk::kAbiVersion) +
        "; rebuild the plugin against this weir's include/weir/sdk.h"));
  }
  const std::string plugin_name = info->plugin_name ? info->plugin_name : "";
  if (plugin_name.empty()) {
    return reject(Status::Invalid(where + ": plugin table has no plugin_name"));
  }
  if (info->parser_count == 0 || info->parsers == nullptr) {
    return reject(Status::Invalid(where + ": plugin '" + plugin_name + "' provides no parsers"));
  }

  std::vector<ParserFactory> added;
  for (size_t i = 0; i < info->parser_count; ++i) {
    const weir_parser_entry& e = info->parsers[i];
    const std::string at = where + ": parser #" + std::to_string(i);
    if (e.name == nullptr || !IsValidParserName(e.name)) {
      return reject(Status::Invalid(at + ": invalid name '" + (e.name ? e.name : "(null)") +
                                    "': expected 1-128 letters, digits, '_', '.' or '-'"));
    }
    const std::string name = e.name;
    if (e.create == nullptr || e.destroy == nullptr) {
      return reject(Status::Invalid(at + " '" + name +
                                    "': " + (e.create == nullptr ? "create" : "destroy") +
                                    " function is null"));
    }
    if (e.shape < WEIR_SHAPE_PARSER || e.shape > WEIR_SHAPE_MULTI_FILE) {
      return reject(Status::Invalid(at + " '" + name + "': unknown shape " +
                                    std::to_string(e.shape) +
                                    " (expected 1 parser, 2 state machine, 3 multi-file)"));
    }
    for (const ParserFactory& f : added) {
      if (f.name_ == name) {
        return reject(Status::Invalid(where + ": parser name '" + name +
                                      "' appears twice in the plugin's table"));
      }
    }
    for (const ParserFactory& f : parsers_) {
      if (f.name_ == name) {
        return reject(Status::Invalid(where + ": parser name '" + name +
                                      "' is already provided by plugin " + f.plugin_path_ +
                                      "; parser names must be unique across plugins"));
      }
    }
    ParserFactory f;
    f.name_ = name;
    f.description_ = e.description ? e.description : "";
    f.plugin_name_ = plugin_name;
    f.plugin_path_ = abs.string();
    f.shape_ = static_cast<Shape>(e.shape);
    f.create_ = e.create;
    f.destroy_ = e.destroy;
    added.push_back(std::move(f));
  }

  libraries_.push_back(Library{handle, abs.string()});
  for (ParserFactory& f : added) parsers_.push_back(std::move(f));
  return Status::OK();
}

Result<ParserFactory> PluginRegistry::Find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const ParserFactory& f : parsers_) {
    if (f.name_ == name) return f;
    names.push_back(f.name_);
  }
  if (names.empty()) {
    return Status::NotFound("unknown plugin parser '" + name +
                            "': no plugin is loaded; list the plugin library under `plugins:` "
                            "in the dataset file");
  }
  std::sort(names.begin(), names.end());
  return Status::NotFound("unknown plugin parser '" + name + "'" + DidYouMean(name, names) +
                          "; loaded plugin parsers: " + JoinNames(names));
}

std::vector<ParserFactory> PluginRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ParserFactory> out = parsers_;
  std::sort(out.begin(), out.end(),
            [](const ParserFactory& a, const ParserFactory& b) { return a.name() < b.name(); });
  return out;
}

sdk::ParseResult SafeParse(sdk::Parser& parser, const sdk::RecordContext& ctx,
                           std::string_view record, sdk::Document& doc) {
  try {
    return parser.Parse(ctx, record, doc);
  } catch (...) {
    // The document may be half built; the engine discards it for a non-document result.
    return sdk::ParseResult::Error("parser threw: " + CurrentExceptionMessage());
  }
}

Result<sdk::RecordFormat> SafeFormat(const sdk::Parser& parser) {
  sdk::RecordFormat format;
  try {
    format = parser.format();
  } catch (...) {
    return Status::Invalid("parser threw in format(): " + CurrentExceptionMessage());
  }
  // Same check the pattern splitter relies on (parse/pattern_splitter.h).
  WEIR_RETURN_IF_ERROR(ValidateRecordFormat(format).WithContext("parser format()"));
  return format;
}

Result<std::string> SafeFileType(const sdk::Parser& parser) {
  try {
    return std::string(parser.file_type());
  } catch (...) {
    return Status::Invalid("parser threw in file_type(): " + CurrentExceptionMessage());
  }
}

Result<int64_t> SafeBodyLength(const sdk::Parser& parser, std::string_view header) {
  try {
    return parser.BodyLength(header);
  } catch (...) {
    return Status::Invalid("parser threw in BodyLength(): " + CurrentExceptionMessage());
  }
}

Result<std::string> SafeResolvePath(const sdk::Parser& parser, std::string_view manifest_entry) {
  std::string path;
  try {
    path = parser.ResolvePath(manifest_entry);
  } catch (...) {
    return Status::Invalid("parser threw in ResolvePath('" + std::string(manifest_entry) +
                           "'): " + CurrentExceptionMessage());
  }
  if (path.empty()) {
    return Status::Invalid("parser ResolvePath('" + std::string(manifest_entry) +
                           "') returned an empty path");
  }
  return path;
}

}  // namespace weir
