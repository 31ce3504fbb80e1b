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
#include <type_traits>
#include <vector>

namespace weir::sdk {

inline constexpr uint32_t kAbiVersion = 1;

// A parsed document: a tree of objects whose leaves are strings, integers, doubles, booleans,
// nulls or raw JSON text. The root is an object. Keys are kept in insertion order; a key set twice
// in the same object keeps its first value (as weir's jsonl parser does). Header-only, so plugins
// need no weir library at link time.
// Ownership: owns copies of all keys and values, except the values given to SetView(), which it
// only points to. Lifetime rule for SetView(): the viewed bytes must stay valid and unchanged
// until the engine has consumed the document, i.e. until the Parse() call that filled it returns
// (the engine projects the document right after, before it reuses any buffer). The `record`
// handed to Parser::Parse() qualifies; bytes of an earlier record or call, or scratch the parser
// overwrites within the same call, do not (use Set(), which copies). StateMachineParser and
// MultiFileReader documents outlive the record that filled a field (the engine reads the next
// records before it projects), so they must use Set(), never SetView() with record bytes.
// Thread-safety: none.
class Document {
 public:
  enum class Kind : uint8_t { kNull, kString, kInt, kDouble, kBool, kJson, kObject };
  struct Node {
    uint32_t parent;   // index of the enclosing object node (0 = root); root's parent is itself
    Kind kind;
    uint32_t key_off, key_len;  // into the arena
    uint32_t val_off, val_len;  // kString / kJson text in the arena, or kViewOffset (see below)
    int64_t i;                  // kInt, kBool (0/1); the view's address when val_off == kViewOffset
    double d;                   // kDouble
  };
  // val_off of a kString node set with SetView(): its text is val_len bytes at the address kept
  // in `i` (unused by strings otherwise), so the node layout, and with it the plugin ABI, stays
  // as it was. Read text through text(), never through the arena offsets directly.
  static constexpr uint32_t kViewOffset = 0xFFFFFFFFu;

  // A handle to an object node for building; cheap to copy, valid until Clear().
  class Object {
   public:
    void Set(std::string_view key, std::string_view value) { Add(key, Kind::kString, value); }
    // Like Set() without copying `value`: the document keeps a view of it. Saves a copy per
    // field for parsers whose values are slices of the record; see the lifetime rule above.
    void SetView(std::string_view key, std::string_view value) {
      Node& n = Add(key, Kind::kString, {});
      n.val_off = kViewOffset;
      n.val_len = static_cast<uint32_t>(value.size());
      n.i = static_cast<int64_t>(reinterpret_cast<uintptr_t>(value.data()));
    }
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
      const uint32_t key_off = doc_->Store(key);
      const uint32_t val_off = doc_->Store(text);
      // Filled in place: a Node assembled on the stack and then copied in was a measured stall
      // (narrow stores followed by a wide load of the same bytes).
      Node& n = doc_->nodes_.emplace_back();
      n.parent = node_;
      n.kind = kind;
      n.key_off = key_off;
      n.key_len = static_cast<uint32_t>(key.size());
      n.val_off = val_off;
      n.val_len = static_cast<uint32_t>(text.size());
      return n;
    }
    Document* doc_;
    uint32_t node_;
  };

  Document() { Clear(); }
  Object root() { return Object(this, 0); }
  // Shorthands for fields of the root object.
  void Set(std::string_view key, std::string_view value) { root().Set(key, value); }
  void SetView(std::string_view key, std::string_view value) { root().SetView(key, value); }
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
  std::string_view text(const Node& n) const {
    if (n.val_off == kViewOffset) {
      return {reinterpret_cast<const char*>(static_cast<uintptr_t>(n.i)), n.val_len};
    }
    return {arena_.data() + n.val_off, n.val_len};
  }
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
    if (!s.empty()) arena_.append(s.data(), s.size());
    return off;
  }
  std::vector<Node> nodes_;
  std::string arena_;
};

// What Parse() decided about one record. A skip or an error carries a reason; the engine counts
// it and (for errors) writes an error record with the record's file, offsets and an excerpt.
// Continue() and Fail() are for StateMachineParser only (a plain Parser returning them gets an
// error record): Continue() means the record belongs to a document that goes on with the next
// record; Fail(reason) means the document is bad because of this record but still goes on to
// where it would have ended, so the error record spans the whole document and names this record.
struct ParseResult {
  enum class Kind : uint8_t { kDocument, kSkip, kError, kContinue, kFail };
  Kind kind = Kind::kDocument;
  std::string reason;
  static ParseResult Doc() { return {}; }
  static ParseResult Skip(std::string why) { return {Kind::kSkip, std::move(why)}; }
  static ParseResult Error(std::string why) { return {Kind::kError, std::move(why)}; }
  static ParseResult Continue() { return {Kind::kContinue, {}}; }
  static ParseResult Fail(std::string why) { return {Kind::kFail, std::move(why)}; }
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
//  - kStartRegex (make it with StartRegex()): multi-line records. A record starts at a line
//    whose text (without "\n" / "\r\n") matches the RE2 regex in `start` and runs until the
//    next such line or end of file; the bytes handed over are its lines with their inner line
//    ends, without the last line's terminator. Lines before the first start line are "bytes
//    outside any record" (ignored when blank). A record of more than `max_lines` lines (0 =
//    1000) is an error record ("record longer than max_lines lines"). In a state machine or a
//    multi-file reader, such a record ends at the next line ITS OWN regex matches; Record::
//    end_offset is then where the next record starts (after the last line's "\n").
// A record whose end is missing at end of file is an error record, unless `eof_ends_record`.
// A record longer than `max_record_bytes` (0 = the dataset's read.max_record_bytes) is an error
// record; the engine skips to the next record start.
// ABI: max_lines lives in padding that existed before it, so the struct's size and the offsets
// of the other fields are those of ABI version 1 (docs/sdk.md lists it; static_asserts below).
struct RecordFormat {
  enum class Kind : uint8_t { kPatterns, kHeaderBody, kLengthPrefixed, kStartRegex };
  Kind kind = Kind::kPatterns;
  std::string start;
  std::string end = "\n";
  bool end_is_next_start = false;
  bool eof_ends_record = true;
  uint32_t max_lines = 0;  // kStartRegex only (an engine reads it for no other kind)
  std::string trailer;
  int prefix_bytes = 4;
  bool prefix_big_endian = true;
  uint64_t max_record_bytes = 0;

  // Multi-line records starting at a line that matches `regex` (RE2 syntax), e.g.
  // StartRegex("^\\d{4}-\\d{2}-\\d{2} ") for log lines that begin with a date.
  static RecordFormat StartRegex(std::string regex, uint32_t max_lines = 0) {
    RecordFormat f;
    f.kind = Kind::kStartRegex;
    f.start = std::move(regex);
    f.end.clear();
    f.max_lines = max_lines;
    return f;
  }
};
#if defined(__x86_64__) || defined(__aarch64__)
// The layout of ABI version 1 (LP64, libstdc++'s 32-byte std::string) is unchanged.
static_assert(offsetof(RecordFormat, trailer) == 80 || sizeof(std::string) != 32,
              "RecordFormat layout changed: bump kAbiVersion and update docs/sdk.md");
static_assert(sizeof(RecordFormat) == 128 || sizeof(std::string) != 32,
              "RecordFormat layout changed: bump kAbiVersion and update docs/sdk.md");
#endif

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


// ---- shapes 2 and 3: state machines and several files read in step ----------------------------

// One record as a RecordReader hands it over.
struct Record {
  // The record's bytes (for kLengthPrefixed: the payload). Valid until the next Next() or Peek()
  // on the same reader; copy what must live longer (Document setters copy).
  std::string_view bytes;
  uint64_t offset = 0;      // first byte of the record in the (decompressed) file
  uint64_t end_offset = 0;  // just past the record (its trailer or end pattern included)
  uint64_t number = 0;      // 0-based number of the record in its file
  // Non-null when the engine could not delimit a proper record here: "bytes outside any record",
  // "record longer than max_record_bytes", "missing end pattern at end of file", "malformed
  // record header", "missing record trailer" or "record truncated at end of file". `bytes` is
  // then an excerpt (at most max_record_bytes) and [offset, end_offset) the exact range.
  const char* problem = nullptr;
};

// The engine's reader of one file of a manifest entry, handed to a MultiFileReader. It delimits
// records with the RecordFormat of its file type, reads compressed files transparently and
// tracks exact offsets; it belongs to the engine and lives for one task.
// Thread-safety: none needed; used by the one thread that runs the task.
class RecordReader {
 public:
  enum class State : uint8_t { kOk, kEnd, kFailed };
  virtual std::string_view file_type() const = 0;  // e.g. "CDX"
  virtual std::string_view file_name() const = 0;  // the resolved path being read
  // Moves to the next record and returns it in `rec`; false at end of file, or when reading
  // failed (state() says which; on failure the engine retries the task from its checkpoint, so
  // just return from Read()).
  virtual bool Next(Record& rec) = 0;
  // The record Next() would return, without consuming it.
  virtual bool Peek(Record& rec) = 0;
  virtual uint64_t offset() const = 0;         // where the next unconsumed record begins
  virtual uint64_t record_number() const = 0;  // the number of the next unconsumed record
  virtual State state() const = 0;

 protected:
  ~RecordReader() = default;  // owned by the engine, never deleted through this interface
};

// One record type of a StateMachineParser (or one file type of a MultiFileReader): its name and
// how its records are delimited.
struct RecordType {
  std::string name;  // e.g. "request"; a file type name for MultiFileReader ("WARC", "CDX")
  RecordFormat format;
};

// The record before the current one in the file, for a StateMachineParser.
struct PreviousRecord {
  int type = -1;           // index into record_types(); -1 at the start of the file
  std::string_view bytes;  // its bytes (empty at the start of the file)
  uint64_t offset = 0;
};

// Shape 2: a single-file state machine parser. A file holds records of several types in a fixed
// order (e.g. request, then response, then metadata); NextType() says which type comes after the
// previous record, the engine delimits the next record with that type's RecordFormat and hands
// it to Parse() with the previous record and the document built so far as context.
//
// Documents: `doc` starts empty; each Parse() adds to it. Return Continue() when the document goes
// on with the next record, Doc() when this record completes it (the engine emits it), Skip() or
// Error() to end it here without emitting (an error record then spans every record of the
// document, from its first byte to the end of this record, and names this record as the bad
// one). Fail(reason) marks the document bad at this record but lets it go on: later records are
// still parsed (into the same `doc`) until one ends the document, which then becomes ONE error
// record spanning all of it, with the first Fail's reason and record. Prefer Fail() when the
// file's fixed order says where the document ends, so that a record-level redrive (which re-reads
// exactly the error record's range) sees the whole document. The next record starts a new,
// empty document. A record the engine cannot delimit (see Record::problem) ends the document
// as an error too; after "bytes outside any record" the expected type stays the same.
// Checkpoints fall only between documents; on resume the engine re-reads the previous record so
// `previous` is the same as in an uninterrupted run. A parser keeps no other state between
// documents (or restarts would change the output).
// Threading: one instance per worker thread, as for Parser; the same instance reads many files,
// and each file starts with previous.type == -1.
class StateMachineParser {
 public:
  virtual ~StateMachineParser() = default;
  virtual std::string_view file_type() const = 0;
  // The record types, in any order; their index identifies them from then on. Called once.
  virtual std::vector<RecordType> record_types() const = 0;
  // The type of the record that follows one of type `previous` (-1: at the start of the file).
  virtual int NextType(int previous) const = 0;
  // kHeaderBody types only: the body length a header of `type` announces, or -1 if malformed.
  virtual int64_t BodyLength(int type, std::string_view header) const {
    (void)type;
    (void)header;
    return -1;
  }
  virtual std::string ResolvePath(std::string_view manifest_entry) const {
    return std::string(manifest_entry);
  }
  // ctx.offset / ctx.record_number are those of `record`.
  virtual ParseResult Parse(const RecordContext& ctx, int type, std::string_view record,
                            const PreviousRecord& previous, Document& doc) = 0;
};

// What MultiFileReader::Read() produced.
// DocumentError(file, why) is Error() for a document that is bad as a whole (e.g. a multi-line
// log entry assembled with Peek()/Next() whose fields do not parse): the error record's offsets
// and excerpt then start at the FIRST record this Read() consumed from `file` (-1: the first file
// that gave any) and end after its last, instead of naming only the last record read. (An engine
// older than this kind treats it as Error().)
struct ReadResult {
  enum class Kind : uint8_t { kDocument, kSkip, kError, kEnd, kDocumentError };
  Kind kind = Kind::kDocument;
  std::string reason;
  int bad_file = -1;  // kError: index of the file type whose record was bad (-1: the last read)
  static ReadResult Doc() { return {}; }
  static ReadResult Skip(std::string why) { return {Kind::kSkip, std::move(why), -1}; }
  static ReadResult Error(int file, std::string why) { return {Kind::kError, std::move(why), file}; }
  static ReadResult End() { return {Kind::kEnd, {}, -1}; }
  static ReadResult DocumentError(int file, std::string why) {
    return {Kind::kDocumentError, std::move(why), file};
  }
};

// Shape 3: a multi-file state machine reader. A manifest entry names one file per file type
// (`WARC:crawl.warc.gz|CDX:crawl.cdx`); the engine opens one RecordReader per file type and calls
// Read() until it returns End(). Each Read() consumes records from any of the readers (Next,
// Peek) and builds ONE composite document, or reports a skip or an error naming the file whose
// record was bad. The engine records, per file, the range of records each Read() consumed: error
// records carry those ranges, and checkpoints (the readers' offsets) fall between Read() calls.
// Rules: every Read() other than End() must consume at least one record; records left unread
// when Read() returns End() become error records ("record not consumed by the reader"); a
// reader keeps no state between Read() calls except what it derives from the readers (a restart
// from a checkpoint gives it fresh readers at the checkpoint offsets, after Reset()).
// Threading: one instance per worker thread; Reset() is called before each file set.
class MultiFileReader {
 public:
  virtual ~MultiFileReader() = default;
  // The file types, in the order `readers` is given to Read(). Names are what manifest entries
  // use before the ':'. Called once.
  virtual std::vector<RecordType> file_types() const = 0;
  virtual int64_t BodyLength(int file, std::string_view header) const {
    (void)file;
    (void)header;
    return -1;
  }
  // The file to open for `path` as written in the manifest entry for file type `file`.
  virtual std::string ResolvePath(int file, std::string_view path) const {
    (void)file;
    return std::string(path);
  }
  // Forget everything about the previous file set.
  virtual void Reset() {}
  virtual ReadResult Read(const std::vector<RecordReader*>& readers, Document& doc) = 0;
};

namespace detail {
// Which shape a plugin class implements, and conversions through its shape's base class, used by
// WEIR_PLUGIN so one macro serves all three shapes.
template <class C>
constexpr uint32_t ShapeOf() {
  if constexpr (std::is_base_of_v<Parser, C>) {
    return 1;
  } else if constexpr (std::is_base_of_v<StateMachineParser, C>) {
    return 2;
  } else {
    static_assert(std::is_base_of_v<MultiFileReader, C>,
                  "WEIR_PLUGIN: the class must derive from weir::sdk::Parser, "
                  "StateMachineParser or MultiFileReader");
    return 3;
  }
}
template <class C>
void* ToBase(C* p) {
  if constexpr (ShapeOf<C>() == 1) return static_cast<Parser*>(p);
  else if constexpr (ShapeOf<C>() == 2) return static_cast<StateMachineParser*>(p);
  else return static_cast<MultiFileReader*>(p);
}
template <class C>
void DeleteBase(void* p) {
  if constexpr (ShapeOf<C>() == 1) delete static_cast<Parser*>(p);
  else if constexpr (ShapeOf<C>() == 2) delete static_cast<StateMachineParser*>(p);
  else delete static_cast<MultiFileReader*>(p);
}
}  // namespace detail

}  // namespace weir::sdk

// ---- plugin ABI (C linkage) ----------------------------------------------------------------
// A plugin exports `weir_plugin_v1` returning a table of the parsers it provides. Each entry has
// a shape (which SDK class it implements); `create` gets the dataset's `read.options` as JSON
// text and returns a new instance as a pointer to its shape's base class (weir::sdk::Parser,
// StateMachineParser or MultiFileReader) converted to void*, or nullptr with a message in `error`
// (at most error_len bytes, NUL-terminated). `destroy` deletes what `create` made. WEIR_PLUGIN
// writes all of this for you.
extern "C" {
enum { WEIR_SHAPE_PARSER = 1, WEIR_SHAPE_STATE_MACHINE = 2, WEIR_SHAPE_MULTI_FILE = 3 };
struct weir_parser_entry {
  const char* name;  // the dataset says `parser: plugin:<name>`
  const char* description;
  uint32_t shape;    // WEIR_SHAPE_*
  void* (*create)(const char* options_json, char* error, size_t error_len);
  void (*destroy)(void* instance);
};
struct weir_plugin_info {
  uint32_t abi_version;  // must be weir::sdk::kAbiVersion of the engine loading it
  const char* plugin_name;
  const weir_parser_entry* parsers;
  size_t parser_count;
};
typedef const weir_plugin_info* (*weir_plugin_entry_fn)(void);
}

// Declares the entry point of a plugin with one parser class, of any of the three shapes (a
// class derived from weir::sdk::Parser, StateMachineParser or MultiFileReader). CLASS must have a
// constructor taking (const std::string& options_json) and may throw std::exception from it to
// reject options (the message becomes the dataset error). Use once per plugin library:
//   WEIR_PLUGIN("logfile", LogfileParser, "Apache-style log files with # comments")
#define WEIR_PLUGIN(NAME, CLASS, DESCRIPTION)                                                 \
  extern "C" {                                                                                \
  static void* weir_plugin_create_(const char* options, char* err, size_t len) {              \
    try {                                                                                     \
      return weir::sdk::detail::ToBase<CLASS>(new CLASS(std::string(options ? options : "{}"))); \
    } catch (const std::exception& e) {                                                       \
      if (len) std::snprintf(err, len, "%s", e.what());                                       \
    } catch (...) {                                                                           \
      if (len) std::snprintf(err, len, "%s", "unknown exception in parser constructor");     \
    }                                                                                         \
    return nullptr;                                                                           \
  }                                                                                           \
  static void weir_plugin_destroy_(void* p) { weir::sdk::detail::DeleteBase<CLASS>(p); }      \
  __attribute__((visibility("default"))) const weir_plugin_info* weir_plugin_v1(void) {       \
    static const weir_parser_entry entries[] = {                                              \
        {NAME, DESCRIPTION, weir::sdk::detail::ShapeOf<CLASS>(), &weir_plugin_create_,        \
         &weir_plugin_destroy_}};                                                             \
    static const weir_plugin_info info = {weir::sdk::kAbiVersion, NAME, entries, 1};          \
    return &info;                                                                             \
  }                                                                                           \
  }
