// weir/sdk.h: the parser SDK. Start here if you write a parser plugin (see docs/sdk.md).
//
// weir reads the file, finds each record, hands its bytes to your Parser, and takes care of
// everything else: batching, typed columns, the lake, checkpoints, retries, error records with
// exact offsets, redrive. A parser does three things:
//   1. says how records are delimited (RecordFormat: start/end byte patterns, or a header
//      followed by a body whose length the header gives, or a length prefix);
//   2. turns one record's bytes into a Document (a JSON-like tree that the dataset's `columns`
//      address with JSON pointers), or says the record is to be skipped or is an error;
//   3. optionally maps a manifest entry to the file to open.
//
// Threading: the engine creates one Parser per worker thread and calls it from that thread only,
// so a parser may keep mutable scratch state without locks.
// Errors: return ParseResult::Error(reason) for a bad record; never throw. An exception that
// escapes Parse() is caught by the engine and turned into an error record for that record.
// ABI: a plugin is a shared library built against this header; its entry point reports
// kAbiVersion, and the engine refuses a plugin whose version differs (a clear error, never UB).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weir::sdk {

inline constexpr uint32_t kAbiVersion = 1;

// A parsed document: a tree of objects whose leaves are strings, integers, doubles, booleans,
// nulls or raw JSON text. The root is an object. Keys are kept in insertion order; a key set twice
// in the same object keeps its first value (as weir's jsonl parser does). Header-only, so plugins
// need no weir library at link time.
// Ownership: owns copies of all keys and values. Thread-safety: none.
class Document {
 public:
  enum class Kind : uint8_t { kNull, kString, kInt, kDouble, kBool, kJson, kObject };
  struct Node {
    uint32_t parent;   // index of the enclosing object node (0 = root); root's parent is itself
    Kind kind;
    uint32_t key_off, key_len;  // into the arena
    uint32_t val_off, val_len;  // kString / kJson text in the arena
    int64_t i;                  // kInt, kBool (0/1)
    double d;                   // kDouble
  };

  // A handle to an object node for building; cheap to copy, valid until Clear().
  class Object {
   public:
    void Set(std::string_view key, std::string_view value) { Add(key, Kind::kString, value); }
    void SetInt(std::string_view key, int64_t v) { Add(key, Kind::kInt, {}).i = v; }
    void SetDouble(std::string_view key, double v) { Add(key, Kind::kDouble, {}).d = v; }
    void SetBool(std::string_view key, bool v) { Add(key, Kind::kBool, {}).i = v ? 1 : 0; }
    void SetNull(std::string_view key) { Add(key, Kind::kNull, {}); }
    // `json` must be one valid JSON value; the engine validates it when a column reads it.
    void SetJson(std::string_view key, std::string_view json) { Add(key, Kind::kJson, json); }
    Object AddObject(std::string_view key) {
      Add(key, Kind::kObject, {});
      return Object(doc_, static_cast<uint32_t>(doc_->nodes_.size() - 1));
    }

   private:
    friend class Document;
    Object(Document* d, uint32_t n) : doc_(d), node_(n) {}
    Node& Add(std::string_view key, Kind kind, std::string_view text) {
      Node n{};
      n.parent = node_;
      n.kind = kind;
      n.key_off = doc_->Store(key);
      n.key_len = static_cast<uint32_t>(key.size());
      n.val_off = doc_->Store(text);
      n.val_len = static_cast<uint32_t>(text.size());
      doc_->nodes_.push_back(n);
      return doc_->nodes_.back();
    }
    Document* doc_;
    uint32_t node_;
  };

  Document() { Clear(); }
  Object root() { return Object(this, 0); }
  // Shorthands for fields of the root object.
  void Set(std::string_view key, std::string_view value) { root().Set(key, value); }
  void SetInt(std::string_view key, int64_t v) { root().SetInt(key, v); }
  void SetDouble(std::string_view key, double v) { root().SetDouble(key, v); }
  void SetBool(std::string_view key, bool v) { root().SetBool(key, v); }
  void SetNull(std::string_view key) { root().SetNull(key); }
  void SetJson(std::string_view key, std::string_view json) { root().SetJson(key, json); }
  Object AddObject(std::string_view key) { return root().AddObject(key); }

  void Clear() {
    nodes_.clear();
    arena_.clear();
    Node root{};
    root.kind = Kind::kObject;
    nodes_.push_back(root);
  }
  bool empty() const { return nodes_.size() == 1; }

  // ---- reading (the engine's side) ----
  const std::vector<Node>& nodes() const { return nodes_; }
  std::string_view key(const Node& n) const { return {arena_.data() + n.key_off, n.key_len}; }
  std::string_view text(const Node& n) const { return {arena_.data() + n.val_off, n.val_len}; }
  // The node at a JSON pointer given as unescaped tokens ({"headers", "WARC-Type"}), or nullptr.
  const Node* Find(const std::vector<std::string>& tokens) const {
    uint32_t cur = 0;
    for (const std::string& t : tokens) {
      bool found = false;
      for (uint32_t i = cur + 1; i < nodes_.size(); ++i) {
        const Node& n = nodes_[i];
        if (n.parent == cur && key(n) == t) {
          if (&t != &tokens.back() && n.kind != Kind::kObject) return nullptr;
          cur = i;
          found = true;
          break;
        }
      }
      if (!found) return nullptr;
    }
    return &nodes_[cur];
  }

 private:
  uint32_t Store(std::string_view s) {
    uint32_t off = static_cast<uint32_t>(arena_.size());
    arena_.append(s.data(), s.size());
    return off;
  }
  std::vector<Node> nodes_;
  std::string arena_;
};

// What Parse() decided about one record. A skip or an error carries a reason; the engine counts
// it and (for errors) writes an error record with the record's file, offsets and an excerpt.
struct ParseResult {
  enum class Kind : uint8_t { kDocument, kSkip, kError };
  Kind kind = Kind::kDocument;
  std::string reason;
  static ParseResult Doc() { return {}; }
  static ParseResult Skip(std::string why) { return {Kind::kSkip, std::move(why)}; }
  static ParseResult Error(std::string why) { return {Kind::kError, std::move(why)}; }
};

// How records are found in a file. The bytes handed to Parse() are exactly one record:
//  - kPatterns: a record begins where `start` occurs (empty `start`: at the first byte after the
//    previous record) and ends just AFTER the next occurrence of `end` (both patterns are part of
//    the record). With `end_is_next_start`, a record instead ends just BEFORE the next occurrence
//    of `start` (the next record's start is not part of it) or at end of file.
//  - kHeaderBody: the header runs from `start` through the first `end` (e.g. "\r\n\r\n"); the
//    parser's BodyLength(header) gives the number of body bytes that follow, then `trailer`
//    bytes must follow the body (e.g. WARC's "\r\n\r\n"). Header, body and trailer form the record.
//  - kLengthPrefixed: each record is a `prefix_bytes`-byte unsigned length (big- or little-endian)
//    followed by that many bytes; the record handed over is the payload without the prefix.
// Bytes that belong to no record (before a start pattern, between records) are reported as an
// error record ("bytes outside any record"), unless they are only whitespace (then ignored).
// A record whose end is missing at end of file is an error record, unless `eof_ends_record`.
// A record longer than `max_record_bytes` (0 = the dataset's read.max_record_bytes) is an error
// record; the engine skips to the next record start.
struct RecordFormat {
  enum class Kind : uint8_t { kPatterns, kHeaderBody, kLengthPrefixed };
  Kind kind = Kind::kPatterns;
  std::string start;
  std::string end = "\n";
  bool end_is_next_start = false;
  bool eof_ends_record = true;
  std::string trailer;
  int prefix_bytes = 4;
  bool prefix_big_endian = true;
  uint64_t max_record_bytes = 0;
};

// Where a record came from, for parsers that want it (and for messages).
struct RecordContext {
  std::string_view file_type;  // the parser's logical file type, e.g. "WARC"
  std::string_view file_name;  // the resolved path of the file being read
  uint64_t offset = 0;         // byte offset of the record's first byte in the (decompressed) file
  uint64_t record_number = 0;  // 0-based number of the record in the file
};

// A single-file parser. One instance per worker thread.
class Parser {
 public:
  virtual ~Parser() = default;
  // Logical file type name, used in error records and messages (e.g. "WARC", "access-log").
  virtual std::string_view file_type() const = 0;
  virtual RecordFormat format() const = 0;
  // kHeaderBody only: body length announced by a header, or -1 when the header is malformed
  // (the engine then writes an error record and looks for the next record start).
  virtual int64_t BodyLength(std::string_view header) const { (void)header; return -1; }
  // The file to open for a manifest entry (absolute or relative to read.location).
  virtual std::string ResolvePath(std::string_view manifest_entry) const {
    return std::string(manifest_entry);
  }
  // Turns one record into `doc` (cleared by the engine before each call).
  virtual ParseResult Parse(const RecordContext& ctx, std::string_view record, Document& doc) = 0;
};

}  // namespace weir::sdk

// ---- plugin ABI (C linkage) ----------------------------------------------------------------
// A plugin exports `weir_plugin_v1` returning a table of the parsers it provides. `create` gets
// the dataset's `read.options` as JSON text and returns a new parser, or nullptr with a message
// in `error` (at most error_len bytes, NUL-terminated). `destroy` deletes what `create` made.
extern "C" {
struct weir_parser_entry {
  const char* name;  // the dataset says `parser: plugin:<name>`
  const char* description;
  weir::sdk::Parser* (*create)(const char* options_json, char* error, size_t error_len);
  void (*destroy)(weir::sdk::Parser* parser);
};
struct weir_plugin_info {
  uint32_t abi_version;  // must be weir::sdk::kAbiVersion of the engine loading it
  const char* plugin_name;
  const weir_parser_entry* parsers;
  size_t parser_count;
};
typedef const weir_plugin_info* (*weir_plugin_entry_fn)(void);
}

// Declares the entry point of a plugin with one parser class. CLASS must have a constructor
// taking (const std::string& options_json) and may throw std::exception from it to reject
// options (the message becomes the dataset error). Use once per plugin library:
//   WEIR_PLUGIN("logfile", LogfileParser, "Apache-style log files with # comments")
#define WEIR_PLUGIN(NAME, CLASS, DESCRIPTION)                                                 \
  extern "C" {                                                                                \
  static weir::sdk::Parser* weir_plugin_create_(const char* options, char* err, size_t len) { \
    try {                                                                                     \
      return new CLASS(std::string(options ? options : "{}"));                                \
    } catch (const std::exception& e) {                                                       \
      if (len) std::snprintf(err, len, "%s", e.what());                                       \
    } catch (...) {                                                                           \
      if (len) std::snprintf(err, len, "%s", "unknown exception in parser constructor");     \
    }                                                                                         \
    return nullptr;                                                                           \
  }                                                                                           \
  static void weir_plugin_destroy_(weir::sdk::Parser* p) { delete p; }                        \
  __attribute__((visibility("default"))) const weir_plugin_info* weir_plugin_v1(void) {       \
    static const weir_parser_entry entries[] = {                                              \
        {NAME, DESCRIPTION, &weir_plugin_create_, &weir_plugin_destroy_}};                    \
    static const weir_plugin_info info = {weir::sdk::kAbiVersion, NAME, entries, 1};          \
    return &info;                                                                             \
  }                                                                                           \
  }
