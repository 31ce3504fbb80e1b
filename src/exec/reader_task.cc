#include "exec/reader_task.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>

#include "core/interrupt.h"
#include "core/text.h"
#include "io/fs.h"
#include "core/text_util.h"
#include "exec/parser_source.h"
#include "exec/record_reader.h"
#include "exec/runner.h"
#include "exec/transforms.h"
#include "exec/worker_output.h"
#include "parse/pattern_splitter.h"
#include "parse/projector.h"
#include "plugin/plugin_loader.h"

namespace weir {
namespace stdfs = std::filesystem;
using Clock = std::chrono::steady_clock;

Result<std::vector<std::string>> SplitMultiFileEntry(std::string_view entry,
                                                     const std::vector<sdk::RecordType>& types) {
  std::string expected;
  for (const auto& t : types) expected += (expected.empty() ? "" : "|") + t.name + ":<path>";
  auto bad = [&](const std::string& why) {
    return Status::Invalid("manifest entry '" + std::string(entry) + "': " + why +
                           "; a multi-file reader expects " + expected);
  };
  std::vector<std::string> paths(types.size());
  std::vector<bool> seen(types.size(), false);
  size_t pos = 0;
  while (pos <= entry.size()) {
    size_t bar = entry.find('|', pos);
    if (bar == std::string_view::npos) bar = entry.size();
    std::string_view part = entry.substr(pos, bar - pos);
    pos = bar + 1;
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    const size_t colon = part.find(':');
    // A reader of one file type needs no prefix: a bare path is that type's file. Text before a
    // ':' that holds '/' or '.' is a path too (a type name holds neither).
    const bool bare = colon == std::string_view::npos ||
                      part.substr(0, colon).find_first_of("/.") != std::string_view::npos;
    if (bare && types.size() == 1 && entry.find('|') == std::string_view::npos) {
      if (part.empty()) return bad("the path is empty");
      paths[0] = std::string(part);
      return paths;
    }
    if (colon == std::string_view::npos) return bad("'" + std::string(part) + "' has no TYPE: prefix");
    const std::string type(part.substr(0, colon));
    const std::string path(part.substr(colon + 1));
    auto it = std::find_if(types.begin(), types.end(), [&](const auto& t) { return t.name == type; });
    if (it == types.end()) {
      std::vector<std::string> names;
      for (const auto& t : types) names.push_back(t.name);
      return bad("unknown file type '" + type + "'" + DidYouMean(type, names));
    }
    const size_t i = static_cast<size_t>(it - types.begin());
    if (seen[i]) return bad("file type '" + type + "' appears twice");
    if (path.empty()) return bad("file type '" + type + "' has an empty path");
    seen[i] = true;
    paths[i] = path;
  }
  for (size_t i = 0; i < types.size(); ++i) {
    if (!seen[i]) return bad("file type '" + types[i].name + "' is missing");
  }
  return paths;
}

Result<std::vector<std::string>> MultiFileEntryPaths(const DatasetConfig& config,
                                                     std::string_view entry,
                                                     const std::vector<sdk::RecordType>& types) {
  WEIR_ASSIGN_OR_RETURN(std::vector<std::string> paths, SplitMultiFileEntry(entry, types));
  for (std::string& p : paths) {
    p = fs::ResolveInput(config.read.location, p);
  }
  return paths;
}

namespace {

constexpr size_t kUnitsPerFlush = 256;

struct Span {
  uint64_t start = 0, end = 0, first_record = 0, records = 0;
};

// A checkpoint of a multi-record reader (see reader_task.h for the JSON form).
struct ReaderState {
  std::vector<uint64_t> offsets, records;
  int prev_type = -1;
  uint64_t prev_offset = 0, prev_record = 0;

  std::string ToJson(bool state_machine) const {
    nlohmann::json j;
    j["offsets"] = offsets;
    j["records"] = records;
    if (state_machine) {
      j["prev_type"] = prev_type;
      j["prev_offset"] = prev_offset;
      j["prev_record"] = prev_record;
    }
    return j.dump();
  }
  static Result<ReaderState> FromJson(const nlohmann::json& j, size_t files) {
    ReaderState s;
    try {
      s.offsets = j.at("offsets").get<std::vector<uint64_t>>();
      s.records = j.at("records").get<std::vector<uint64_t>>();
      if (j.contains("prev_type")) {
        s.prev_type = j.at("prev_type").get<int>();
        s.prev_offset = j.at("prev_offset").get<uint64_t>();
        s.prev_record = j.at("prev_record").get<uint64_t>();
      }
    } catch (const std::exception& e) {
      return Status::Corruption(std::string("reader checkpoint: ") + e.what());
    }
    if (s.offsets.size() != files || s.records.size() != files) {
      return Status::Corruption("reader checkpoint names " + std::to_string(s.offsets.size()) +
                                " files, the parser reads " + std::to_string(files));
    }
    return s;
  }
};

// One document, skip or error, with where its records came from.
struct Unit {
  enum class Kind : uint8_t { kDoc, kSkip, kError } kind = Kind::kDoc;
  std::string reason;
  size_t bad = 0;     // file of the bad record
  uint64_t bad_offset = 0, bad_end = 0, bad_number = 0;
  std::string excerpt;
  std::vector<Span> spans;
  // The checkpoint before the unit; written out (as JSON) only with an error record.
  ReaderState resume;
};

}  // namespace

class ReaderTaskExecutor::Impl {
 public:
  Impl(const DatasetConfig& cfg, RunProgress& progress, const TaskRow& task,
       const Transforms& transforms, WorkerOutput& out, const ParserSource& source,
       ReaderInstance inst)
      : cfg_(cfg), progress_(progress), task_(task), transforms_(transforms), out_(out),
        source_(source), sm_(inst.state_machine), mf_(inst.multi_file) {}

  Status Execute() {
    WEIR_RETURN_IF_ERROR(Prepare());
    WEIR_RETURN_IF_ERROR(CheckTaskInputs(task_, paths_, &input_id_));
    ReaderState st;
    if (!counters_.state.empty()) {
      nlohmann::json j = nlohmann::json::parse(counters_.state, nullptr, false);
      if (j.is_discarded()) return Status::Corruption(task_.entry + ": unreadable checkpoint state");
      WEIR_ASSIGN_OR_RETURN(st, ReaderState::FromJson(j, paths_.size()));
    } else {
      st.offsets.assign(paths_.size(), 0);
      st.records.assign(paths_.size(), 0);
    }
    std::vector<uint64_t> ends(paths_.size(), std::numeric_limits<uint64_t>::max());
    WEIR_RETURN_IF_ERROR(OpenReaders(st, ends));
    WEIR_RETURN_IF_ERROR(Loop(/*move_checkpoint=*/true));
    // Read to the end: record the inputs as they are (see TaskExecutor for single files).
    input_id_ = ReadInputsIdentity(paths_, {});
    return Flush(/*done=*/true, /*move_checkpoint=*/true);
  }

  Status Reprocess(const std::vector<std::string>& lines, uint64_t* fixed, uint64_t* skipped,
                   uint64_t* still_failing) {
    WEIR_RETURN_IF_ERROR(Prepare());
    const uint64_t written0 = counters_.written, skipped0 = counters_.skipped;
    const uint64_t errors0 = errors_emitted_;
    struct Target {
      ReaderState resume;
      std::vector<uint64_t> ends;
    };
    std::vector<Target> targets;
    targets.reserve(lines.size());
    for (const std::string& line : lines) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("document") || !j.contains("resume")) {
        return Status::Corruption(task_.entry +
                                  ": an error record lacks 'document'/'resume' (written by a "
                                  "parser of another shape?): " + line.substr(0, 200));
      }
      Target t;
      WEIR_ASSIGN_OR_RETURN(t.resume, ReaderState::FromJson(j["resume"], paths_.size()));
      t.ends.resize(paths_.size());
      const nlohmann::json& doc = j["document"];
      for (size_t i = 0; i < paths_.size(); ++i) {
        const std::string& name = FileTypeName(i);
        if (!doc.contains(name)) {
          return Status::Corruption(task_.entry + ": error record has no range for file type " + name);
        }
        // Start where the unit started (the resume state: whitespace before the first record
        // and the previous record included), end where it ended.
        t.ends[i] = doc[name].value("end_offset", uint64_t{0});
      }
      targets.push_back(std::move(t));
    }
    // In file order, so every file is read once, forward (OpenReaders reuses the inputs the
    // previous unit's readers leave): cost grows with the file size, not errors x file size,
    // which matters for compressed files that can only be read from the start. Units follow
    // each other in every file, so their record numbers order them.
    std::stable_sort(targets.begin(), targets.end(), [](const Target& a, const Target& b) {
      return std::tie(a.resume.records, a.resume.offsets) < std::tie(b.resume.records, b.resume.offsets);
    });
    reuse_inputs_ = true;
    for (const Target& t : targets) {
      WEIR_RETURN_IF_ERROR(OpenReaders(t.resume, t.ends));
      WEIR_RETURN_IF_ERROR(Loop(/*move_checkpoint=*/false));
      // The old unit is replaced by whatever the re-read produced (counted by Handle()).
      counters_.read -= 1;
      counters_.errored -= 1;
    }
    reuse_inputs_ = false;
    kept_inputs_.clear();
    WEIR_RETURN_IF_ERROR(Flush(/*done=*/false, /*move_checkpoint=*/false));
    *fixed += counters_.written - written0;
    *skipped += counters_.skipped - skipped0;
    *still_failing += errors_emitted_ - errors0;
    return Status::OK();
  }

 private:
  bool state_machine() const { return sm_ != nullptr; }
  const std::string& FileTypeName(size_t i) const {
    return state_machine() ? source_.file_type() : source_.types()[i].name;
  }

  // Projector, paths and the record types; counters from the task.
  Status Prepare() {
    started_ = Clock::now();
    WEIR_ASSIGN_OR_RETURN(projector_, Projector::Create(cfg_));
    batch_ = std::make_unique<ColumnBatch>(projector_->schema());
    counters_ = task_.counters;
    std::vector<std::string> written;  // paths as the manifest entry gives them
    if (state_machine()) {
      std::string p;
      WEIR_RETURN_IF_ERROR(GuardPluginCall("ResolvePath()", [&] { p = sm_->ResolvePath(task_.entry); })
                               .WithContext(task_.entry));
      written.push_back(p);
    } else {
      WEIR_ASSIGN_OR_RETURN(written, SplitMultiFileEntry(task_.entry, source_.types()));
      for (size_t i = 0; i < written.size(); ++i) {
        std::string p;
        WEIR_RETURN_IF_ERROR(GuardPluginCall("ResolvePath()", [&] {
                               p = mf_->ResolvePath(static_cast<int>(i), written[i]);
                             }).WithContext(task_.entry));
        written[i] = p;
      }
      WEIR_RETURN_IF_ERROR(GuardPluginCall("Reset()", [&] { mf_->Reset(); }).WithContext(task_.entry));
    }
    paths_.clear();
    for (const std::string& p : written) {
      if (p.empty()) return Status::Invalid(task_.entry + ": ResolvePath() returned an empty path");
      paths_.push_back(fs::ResolveInput(cfg_.read.location, p));
    }
    return Status::OK();
  }

  // Opens one reader per file at the state's offsets, bounded by `ends`. A state machine's
  // previous record is re-read first so its bytes are the same context as before.
  Status OpenReaders(const ReaderState& st, const std::vector<uint64_t>& ends) {
    if (reuse_inputs_) {
      kept_inputs_.resize(paths_.size());
      for (size_t i = 0; i < readers_.size() && i < kept_inputs_.size(); ++i) {
        if (readers_[i]->state() == sdk::RecordReader::State::kFailed) continue;
        kept_inputs_[i].input = readers_[i]->ReleaseInput(&kept_inputs_[i].at);
      }
    }
    // A state machine's previous record was just read when the last unit ended right before
    // this one: its bytes are at hand, and the input cannot go back to re-read it.
    const bool prev_at_hand = reuse_inputs_ && state_machine() && st.prev_type >= 0 &&
                              st.prev_type == prev_type_ && st.prev_offset == prev_offset_ &&
                              st.prev_record == prev_number_ && !readers_.empty();
    std::string saved_prev = prev_at_hand ? prev_bytes_ : std::string();
    readers_.clear();
    reader_ptrs_.clear();
    draining_.reset();
    prev_type_ = -1;
    prev_bytes_.clear();
    prev_offset_ = prev_number_ = 0;
    const auto& types = source_.types();
    for (size_t i = 0; i < paths_.size(); ++i) {
      FileRecordReader::Options o;
      o.file_type = FileTypeName(i);
      o.path = paths_[i];
      o.max_record_bytes = cfg_.read.max_record_bytes;
      o.excerpt_bytes = cfg_.errors.excerpt_bytes;
      o.start_offset = st.offsets[i];
      o.start_number = st.records[i];
      o.end_offset = ends[i];
      o.sequence = &sequence_;
      o.raw_progress = &progress_.raw_bytes;
      o.before_read = [] { return InjectedReadError(); };
      if (state_machine()) {
        for (const auto& t : types) o.formats.push_back(t.format);
        sdk::StateMachineParser* sm = sm_;
        o.body_length = [sm](int t, std::string_view h) {
          int64_t n = -1;
          (void)GuardPluginCall("BodyLength()", [&] { n = sm->BodyLength(t, h); });
          return n;
        };
        if (st.prev_type >= 0 && static_cast<size_t>(st.prev_type) < types.size() && !prev_at_hand) {
          o.start_offset = st.prev_offset;
          o.start_number = st.prev_record;
        }
      } else {
        o.formats.push_back(types[i].format);
        sdk::MultiFileReader* mf = mf_;
        const int file = static_cast<int>(i);
        o.body_length = [mf, file](int, std::string_view h) {
          int64_t n = -1;
          (void)GuardPluginCall("BodyLength()", [&] { n = mf->BodyLength(file, h); });
          return n;
        };
      }
      Result<std::unique_ptr<FileRecordReader>> r = Status::Internal("not opened");
      if (i < kept_inputs_.size() && kept_inputs_[i].input && kept_inputs_[i].at <= o.start_offset) {
        r = FileRecordReader::Open(std::move(o), std::move(kept_inputs_[i].input), kept_inputs_[i].at);
      } else {
        r = FileRecordReader::Open(std::move(o));
      }
      if (i < kept_inputs_.size()) kept_inputs_[i].input.reset();
      if (!r.ok()) return r.status().WithContext(task_.entry);
      reader_ptrs_.push_back(r->get());
      readers_.push_back(std::move(r).value());
    }
    if (prev_at_hand) {
      prev_type_ = st.prev_type;
      prev_bytes_ = std::move(saved_prev);
      prev_offset_ = st.prev_offset;
      prev_number_ = st.prev_record;
    } else if (state_machine() && st.prev_type >= 0 && static_cast<size_t>(st.prev_type) < types.size()) {
      FileRecordReader& rd = *readers_[0];
      rd.SetType(st.prev_type);
      sdk::Record r;
      if (!rd.Next(r)) {
        if (rd.state() == sdk::RecordReader::State::kFailed) return rd.error();
        return Status::Corruption(task_.entry + ": cannot re-read the record at offset " +
                                  std::to_string(st.prev_offset) +
                                  " before the checkpoint; was the file changed?");
      }
      if (r.end_offset != st.offsets[0]) {
        return Status::Corruption(task_.entry + ": the record before the checkpoint now ends at " +
                                  std::to_string(r.end_offset) + ", not " +
                                  std::to_string(st.offsets[0]) + "; was the file changed?");
      }
      NotePrevious(st.prev_type, r);
    }
    return Status::OK();
  }

  void NotePrevious(int type, const sdk::Record& r) {
    prev_type_ = type;
    prev_bytes_.assign(r.bytes);
    prev_offset_ = r.offset;
    prev_number_ = r.number;
  }

  ReaderState CurrentState() const {
    ReaderState s;
    for (const auto& r : readers_) {
      s.offsets.push_back(r->offset());
      s.records.push_back(r->record_number());
    }
    s.prev_type = prev_type_;
    s.prev_offset = prev_offset_;
    s.prev_record = prev_number_;
    return s;
  }

  void BeginUnit(Unit& u) {
    u = Unit{};
    u.resume = CurrentState();
    u.spans.resize(readers_.size());
    for (size_t i = 0; i < readers_.size(); ++i) {
      u.spans[i].start = readers_[i]->offset();
      u.spans[i].first_record = readers_[i]->record_number();
      readers_[i]->MarkUnit();
    }
    doc_.Clear();
  }
  void EndUnit(Unit& u) {
    for (size_t i = 0; i < readers_.size(); ++i) {
      // The document starts at its first record, after any whitespace skipped before it.
      if (auto first = readers_[i]->first_offset()) u.spans[i].start = *first;
      u.spans[i].end = readers_[i]->offset();
      u.spans[i].records = readers_[i]->record_number() - u.spans[i].first_record;
      if (u.spans[i].end < u.spans[i].start) u.spans[i].end = u.spans[i].start;
    }
  }
  // The bad record of an error unit: the last record read from file `f` in this unit, or the
  // file's position when the unit read nothing from it.
  void SetBad(Unit& u, size_t f) {
    u.bad = f;
    const FileRecordReader& rd = *readers_[f];
    const sdk::Record* last = rd.last();
    if (last != nullptr && last->number >= u.spans[f].first_record &&
        last->offset >= u.spans[f].start) {
      u.bad_offset = last->offset;
      u.bad_end = last->end_offset;
      u.bad_number = last->number;
      u.excerpt = rd.last_excerpt();
    } else {
      u.bad_offset = u.bad_end = rd.offset();
      u.bad_number = rd.record_number();
    }
  }

  Status ReaderFailure() const {
    for (const auto& r : readers_) {
      if (r->state() == sdk::RecordReader::State::kFailed) return r->error();
    }
    return Status::OK();
  }

  // ---- shape 2: the engine drives the state machine ----
  Status NextStateMachineUnit(Unit& u, bool& end) {
    BeginUnit(u);
    FileRecordReader& rd = *readers_[0];
    const auto& types = source_.types();
    bool in_doc = false;
    std::optional<Unit> failed;  // the first Fail() of this document: reason and bad record
    for (;;) {
      int t = -1;
      WEIR_RETURN_IF_ERROR(GuardPluginCall("NextType()", [&] { t = sm_->NextType(prev_type_); })
                               .WithContext(task_.entry));
      if (t < 0 || static_cast<size_t>(t) >= types.size()) {
        return Status::Invalid(task_.entry + ": NextType(" + std::to_string(prev_type_) +
                               ") returned " + std::to_string(t) + "; the parser declares " +
                               std::to_string(types.size()) + " record types");
      }
      rd.SetType(t);
      sdk::Record r;
      if (!rd.Next(r)) {
        WEIR_RETURN_IF_ERROR(ReaderFailure());
        if (!in_doc) {
          end = true;
          return Status::OK();
        }
        EndUnit(u);
        u.kind = Unit::Kind::kError;
        u.reason = "document incomplete at end of file (a '" + types[t].name +
                   "' record was expected next)";
        SetBad(u, 0);
        if (failed) TakeFailure(u, *failed);
        return Status::OK();
      }
      in_doc = true;
      if (r.problem != nullptr) {
        EndUnit(u);
        u.kind = Unit::Kind::kError;
        u.reason = std::string(r.problem) + " (reading a '" + types[t].name + "' record)";
        SetBad(u, 0);
        // Bytes outside any record are not a record: the same type is still expected.
        if (std::strcmp(r.problem, kProblemOutsideRecord) != 0) NotePrevious(t, r);
        return Status::OK();
      }
      sdk::RecordContext ctx;
      ctx.file_type = source_.file_type();
      ctx.file_name = paths_[0];
      ctx.offset = r.offset;
      ctx.record_number = r.number;
      const sdk::PreviousRecord prev{prev_type_, prev_bytes_, prev_offset_};
      sdk::ParseResult res;
      try {
        res = sm_->Parse(ctx, t, r.bytes, prev, doc_);
      } catch (...) {
        res = sdk::ParseResult::Error("parser threw: " + CurrentExceptionMessage());
      }
      NotePrevious(t, r);
      if (res.kind == sdk::ParseResult::Kind::kFail && !failed) {
        failed = u;
        EndUnit(*failed);
        failed->reason = std::move(res.reason);
        SetBad(*failed, 0);
      }
      if (res.kind == sdk::ParseResult::Kind::kContinue ||
          res.kind == sdk::ParseResult::Kind::kFail) {
        continue;
      }
      EndUnit(u);
      if (failed) {
        // The document ended; it is one error with the first failure's reason and record.
        TakeFailure(u, *failed);
        return Status::OK();
      }
      switch (res.kind) {
        case sdk::ParseResult::Kind::kDocument: u.kind = Unit::Kind::kDoc; break;
        case sdk::ParseResult::Kind::kSkip:
          u.kind = Unit::Kind::kSkip;
          u.reason = std::move(res.reason);
          break;
        default:
          u.kind = Unit::Kind::kError;
          u.reason = std::move(res.reason);
          SetBad(u, 0);
          break;
      }
      return Status::OK();
    }
  }

  static void TakeFailure(Unit& u, Unit& failed) {
    u.kind = Unit::Kind::kError;
    u.reason = std::move(failed.reason);
    u.bad = failed.bad;
    u.bad_offset = failed.bad_offset;
    u.bad_end = failed.bad_end;
    u.bad_number = failed.bad_number;
    u.excerpt = std::move(failed.excerpt);
  }

  // ---- shape 3: the user's reader drives the record readers ----
  Status NextMultiFileUnit(Unit& u, bool& end) {
    if (draining_) {
      // Read() said End(): whatever is left in any file is reported, never silently dropped.
      for (; *draining_ < readers_.size(); ++*draining_) {
        FileRecordReader& rd = *readers_[*draining_];
        BeginUnit(u);
        sdk::Record r;
        if (rd.Next(r)) {
          EndUnit(u);
          u.kind = Unit::Kind::kError;
          u.reason = r.problem != nullptr
                         ? std::string(r.problem)
                         : "record not consumed by the reader (Read() returned End() first)";
          SetBad(u, *draining_);
          return Status::OK();
        }
        WEIR_RETURN_IF_ERROR(ReaderFailure());
      }
      end = true;
      return Status::OK();
    }
    BeginUnit(u);
    const uint64_t seq0 = sequence_;
    sdk::ReadResult res;
    try {
      res = mf_->Read(reader_ptrs_, doc_);
    } catch (...) {
      res = sdk::ReadResult::Error(-1, "reader threw: " + CurrentExceptionMessage());
    }
    WEIR_RETURN_IF_ERROR(ReaderFailure());
    EndUnit(u);
    bool consumed = false;
    for (const Span& s : u.spans) consumed |= s.records > 0;
    if (res.kind == sdk::ReadResult::Kind::kEnd) {
      draining_ = 0;
      if (!consumed) return NextMultiFileUnit(u, end);
      u.kind = Unit::Kind::kError;
      u.reason = "the reader consumed records, then returned End() instead of a document";
    } else if (!consumed) {
      return Status::Invalid(task_.entry + ": the reader's Read() returned without consuming any "
                             "record (it would never finish); every Read() but End() must read "
                             "at least one record");
    } else if (res.kind == sdk::ReadResult::Kind::kDocument) {
      u.kind = Unit::Kind::kDoc;
      return Status::OK();
    } else if (res.kind == sdk::ReadResult::Kind::kSkip) {
      u.kind = Unit::Kind::kSkip;
      u.reason = std::move(res.reason);
      return Status::OK();
    } else if (res.kind == sdk::ReadResult::Kind::kDocumentError) {
      // The document as a whole: its range in the named file (else the first file that gave
      // records), from its first record on, so offsets and excerpt start at the document start.
      u.kind = Unit::Kind::kError;
      u.reason = std::move(res.reason);
      size_t f = 0;
      if (res.bad_file >= 0 && static_cast<size_t>(res.bad_file) < readers_.size() &&
          u.spans[static_cast<size_t>(res.bad_file)].records > 0) {
        f = static_cast<size_t>(res.bad_file);
      } else {
        while (f + 1 < u.spans.size() && u.spans[f].records == 0) ++f;
      }
      SetBadRange(u, f);
      u.excerpt = readers_[f]->unit_excerpt();
      return Status::OK();
    } else {
      u.kind = Unit::Kind::kError;
      u.reason = std::move(res.reason);
    }
    // Which file's record was bad: the reader's word, else the file read last in this unit.
    size_t bad = 0;
    if (res.bad_file >= 0 && static_cast<size_t>(res.bad_file) < readers_.size()) {
      bad = static_cast<size_t>(res.bad_file);
    } else {
      uint64_t best = 0;
      for (size_t i = 0; i < readers_.size(); ++i) {
        const uint64_t s = readers_[i]->last_sequence();
        if (s > seq0 && s > best) {
          best = s;
          bad = i;
        }
      }
    }
    SetBad(u, bad);
    return Status::OK();
  }

  void AppendError(const Unit& u, const std::string& reason) {
    RecordView rv{u.excerpt, u.bad_offset, u.bad_end, u.bad_number};
    std::string extra = ",\"file_type\":";
    AppendJsonString(extra, FileTypeName(u.bad));
    extra += ",\"path\":";
    AppendJsonString(extra, paths_[u.bad]);
    extra += ",\"document\":{";
    for (size_t i = 0; i < u.spans.size(); ++i) {
      const Span& s = u.spans[i];
      if (i > 0) extra += ',';
      AppendJsonString(extra, FileTypeName(i));
      extra += ":{\"start_offset\":" + std::to_string(s.start) +
               ",\"end_offset\":" + std::to_string(s.end) +
               ",\"first_record\":" + std::to_string(s.first_record) +
               ",\"records\":" + std::to_string(s.records) + "}";
    }
    extra += "},\"resume\":" + u.resume.ToJson(state_machine());
    AppendErrorRecord(error_lines_, cfg_, task_.id, task_.entry, rv, reason, true, extra);
    ++errors_emitted_;
  }

  void Handle(Unit& u) {
    counters_.read += 1;
    progress_.records.fetch_add(1);
    switch (u.kind) {
      case Unit::Kind::kDoc: {
        std::string reason;
        if (projector_->ProjectDocument(doc_, *batch_, &reason)) {
          if (transforms_may_reject_) {
            // A transform may reject the row at the next flush, when the readers have moved on.
            size_t f = 0;
            while (f + 1 < u.spans.size() && u.spans[f].records == 0) ++f;
            u.excerpt = readers_[f]->first_excerpt();
          }
          row_units_.push_back(std::move(u));
        } else {
          // The document's records are fine as records; name the first file that gave any.
          size_t f = 0;
          while (f + 1 < u.spans.size() && u.spans[f].records == 0) ++f;
          SetBadRange(u, f);
          u.excerpt = readers_[f]->first_excerpt();
          AppendError(u, reason);
          counters_.errored += 1;
        }
        break;
      }
      case Unit::Kind::kSkip: counters_.skipped += 1; break;
      case Unit::Kind::kError:
        AppendError(u, u.reason);
        counters_.errored += 1;
        break;
    }
  }
  // For document-level failures (projection, transforms): the whole range file `f` gave.
  static void SetBadRange(Unit& u, size_t f) {
    u.bad = f;
    u.bad_offset = u.spans[f].start;
    u.bad_end = u.spans[f].end;
    u.bad_number = u.spans[f].first_record;
  }

  Status Loop(bool move_checkpoint) {
    size_t since_flush = 0;
    for (;;) {
      Unit u;
      bool end = false;
      WEIR_RETURN_IF_ERROR(state_machine() ? NextStateMachineUnit(u, end) : NextMultiFileUnit(u, end));
      if (end) return Status::OK();
      Handle(u);
      bool due = ++since_flush >= kUnitsPerFlush;
      if (cfg_.write.roll_records > 0 &&
          out_.buffer().rows() + batch_->num_rows() >= cfg_.write.roll_records) {
        due = true;
      }
      if (due && move_checkpoint) {
        WEIR_RETURN_IF_ERROR(Flush(/*done=*/false, move_checkpoint));
        since_flush = 0;
        // SIGINT/SIGTERM: stop at a checkpoint; the worker commits what this task has so far.
        if (StopRequested()) return Status::Aborted(task_.entry + ": interrupted");
      }
    }
  }

  // Moves the pending units into the worker output (after transforms), records the checkpoint
  // (when it moves) and commits if due.
  Status Flush(bool done, bool move_checkpoint) {
    rejected_.clear();
    transforms_.Apply(*batch_, rejected_);
    if (!rejected_.empty()) {
      std::vector<uint8_t> drop(batch_->num_rows(), 0);
      for (const auto& [row, reason] : rejected_) {
        drop[row] = 1;
        Unit& u = row_units_[row];
        size_t f = 0;
        while (f + 1 < u.spans.size() && u.spans[f].records == 0) ++f;
        SetBadRange(u, f);
        AppendError(u, reason);
      }
      RemoveRows(*batch_, drop);
      counters_.errored += rejected_.size();
    }
    const size_t rows = batch_->num_rows();
    WEIR_ASSIGN_OR_RETURN(size_t duplicates, out_.Append(*batch_, task_.id));
    counters_.written += rows - duplicates;
    counters_.skipped += duplicates;
    counters_.duplicates += duplicates;
    batch_ = std::make_unique<ColumnBatch>(projector_->schema());
    row_units_.clear();
    if (move_checkpoint) {
      ReaderState s = CurrentState();
      counters_.offset = s.offsets.empty() ? 0 : s.offsets[0];
      counters_.record_number = s.records.empty() ? 0 : s.records[0];
      counters_.bytes = 0;
      for (uint64_t o : s.offsets) counters_.bytes += o;
      counters_.state = s.ToJson(state_machine());
      WEIR_RETURN_IF_ERROR(CheckErrorRatio(cfg_, counters_, done));
    }
    const int64_t ms = task_.duration_ms +
                       std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count();
    out_.Update(task_, counters_, ms, error_lines_,
                done ? std::optional<TaskStatus>(TaskStatus::kCompleted) : std::nullopt,
                move_checkpoint ? input_id_ : std::string());
    if (!done && move_checkpoint && out_.ShouldCommit()) WEIR_RETURN_IF_ERROR(out_.Commit());
    return Status::OK();
  }

  const DatasetConfig& cfg_;
  RunProgress& progress_;
  TaskRow task_;
  const Transforms& transforms_;
  WorkerOutput& out_;
  const ParserSource& source_;
  sdk::StateMachineParser* sm_;
  sdk::MultiFileReader* mf_;

  std::unique_ptr<Projector> projector_;
  std::vector<std::string> paths_;
  std::string input_id_;  // input identity to record with the next commit, if any
  std::vector<std::unique_ptr<FileRecordReader>> readers_;
  std::vector<sdk::RecordReader*> reader_ptrs_;
  uint64_t sequence_ = 0;
  std::optional<size_t> draining_;
  int prev_type_ = -1;
  std::string prev_bytes_;
  uint64_t prev_offset_ = 0, prev_number_ = 0;
  sdk::Document doc_;
  std::unique_ptr<ColumnBatch> batch_;
  std::vector<Unit> row_units_;
  std::vector<std::pair<size_t, std::string>> rejected_;
  uint64_t errors_emitted_ = 0;
  std::string error_lines_;
  // Record-level redrive: inputs given back by the previous unit's readers, per file, with
  // their position; OpenReaders continues from them when they are not past the new start.
  struct KeptInput {
    std::unique_ptr<InputStream> input;
    uint64_t at = 0;
  };
  bool reuse_inputs_ = false;
  std::vector<KeptInput> kept_inputs_;
  // Whether Transforms::Apply can reject rows (then row units keep their excerpt).
  const bool transforms_may_reject_ = !cfg_.transforms.empty();
  TaskCounters counters_;
  Clock::time_point started_;
};

ReaderTaskExecutor::ReaderTaskExecutor(const DatasetConfig& cfg, RunProgress& progress,
                                       const TaskRow& task, const Transforms& transforms,
                                       WorkerOutput& out, const ParserSource& source,
                                       ReaderInstance instance)
    : impl_(std::make_unique<Impl>(cfg, progress, task, transforms, out, source, instance)) {}
ReaderTaskExecutor::~ReaderTaskExecutor() = default;
Status ReaderTaskExecutor::Execute() { return impl_->Execute(); }
Status ReaderTaskExecutor::Reprocess(const std::vector<std::string>& error_lines, uint64_t* fixed,
                                     uint64_t* skipped, uint64_t* still_failing) {
  return impl_->Reprocess(error_lines, fixed, skipped, still_failing);
}

}  // namespace weir
