#include "exec/parser_source.h"

#include <set>

#include "parse/builtin/builtin_parsers.h"
#include "parse/pattern_splitter.h"

namespace weir {

bool ParserSource::UsesSdk(const DatasetConfig& c) {
  return c.read.parser != "jsonl" && c.read.parser != "csv";
}

namespace {

// Record or file types as a plugin declared them: non-empty, unique names and usable formats.
Status ValidateTypes(const std::vector<sdk::RecordType>& types, const char* what) {
  if (types.empty()) return Status::Invalid(std::string("the parser declares no ") + what);
  std::set<std::string> seen;
  for (const auto& t : types) {
    if (t.name.empty()) return Status::Invalid(std::string("a ") + what + " has an empty name");
    if (!seen.insert(t.name).second) {
      return Status::Invalid(std::string(what) + " '" + t.name + "' is declared twice");
    }
    WEIR_RETURN_IF_ERROR(ValidateRecordFormat(t.format).WithContext(std::string(what) + " '" + t.name + "'"));
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<ParserSource>> ParserSource::Create(const DatasetConfig& c) {
  std::unique_ptr<ParserSource> s(new ParserSource());
  s->options_ = c.read.options_json;
  // "dataset.yaml:7: read.options", as config errors name their key (core/config.h).
  auto at = [&](const char* key, int line) {
    return c.file + (line > 0 ? ":" + std::to_string(line) : "") + ": " + key;
  };
  s->options_where_ = at("read.options", c.read.options_line);
  const std::string& p = c.read.parser;
  if (p.rfind("plugin:", 0) == 0) {
    s->registry_ = std::make_unique<PluginRegistry>();
    for (const auto& lib : c.plugins) {
      WEIR_RETURN_IF_ERROR(s->registry_->Load(lib).WithContext(c.file + ": plugins"));
    }
    auto f = s->registry_->Find(p.substr(7));
    if (!f.ok()) return f.status().WithContext(at("read.parser", c.read.parser_line));
    s->factory_ = *f;
    s->shape_ = f->shape();
  } else {
    s->builtin_ = p;
  }
  const std::string where = c.file + ": read.parser " + p;
  switch (s->shape_) {
    case Shape::kParser: {
      WEIR_ASSIGN_OR_RETURN(ParserPtr probe, s->NewParser());
      auto fmt = SafeFormat(*probe);
      if (!fmt.ok()) return fmt.status().WithContext(where);
      auto ft = SafeFileType(*probe);
      if (!ft.ok()) return ft.status().WithContext(where);
      s->file_type_ = *ft;
      s->types_.push_back({s->file_type_, *fmt});
      if (c.read.multiline) WEIR_RETURN_IF_ERROR(s->ApplyMultiline(c).WithContext(where));
      break;
    }
    case Shape::kStateMachine:
    case Shape::kMultiFile:
      if (c.read.multiline) {
        return Status::Invalid(
            where + ": read.multiline is for single-record parsers; a state machine or "
                    "multi-file reader gives its record types RecordFormat::StartRegex(...) "
                    "instead (docs/sdk.md, multi-line logs)");
      }
      break;
  }
  switch (s->shape_) {
    case Shape::kParser:
      break;
    case Shape::kStateMachine: {
      WEIR_ASSIGN_OR_RETURN(StateMachinePtr probe, s->NewStateMachine());
      WEIR_RETURN_IF_ERROR(GuardPluginCall("record_types()", [&] {
                             s->types_ = probe->record_types();
                             s->file_type_ = std::string(probe->file_type());
                           }).WithContext(where));
      WEIR_RETURN_IF_ERROR(ValidateTypes(s->types_, "record type").WithContext(where));
      break;
    }
    case Shape::kMultiFile: {
      WEIR_ASSIGN_OR_RETURN(MultiFileReaderPtr probe, s->NewMultiFile());
      WEIR_RETURN_IF_ERROR(
          GuardPluginCall("file_types()", [&] { s->types_ = probe->file_types(); }).WithContext(where));
      WEIR_RETURN_IF_ERROR(ValidateTypes(s->types_, "file type").WithContext(where));
      for (const auto& t : s->types_) {
        if (t.name.find_first_of(":|") != std::string::npos) {
          return Status::Invalid(where + ": file type '" + t.name +
                                 "' contains ':' or '|', which manifest entries use as separators");
        }
      }
      break;
    }
  }
  return s;
}

// read.multiline replaces a line-based parser's record format: records become groups of lines
// that start at a line matching the regex; each goes to Parse() as one record (lines parsers
// strip only a final line end, so they see the inner ones).
Status ParserSource::ApplyMultiline(const DatasetConfig& c) {
  using Kind = sdk::RecordFormat::Kind;
  sdk::RecordFormat& f = types_.front().format;
  const bool lines = f.kind == Kind::kPatterns && f.start.empty() && f.end == "\n" &&
                     !f.end_is_next_start;
  if (!lines && f.kind != Kind::kStartRegex) {
    return Status::Invalid(
        "read.multiline needs a parser whose records are lines, but this parser delimits its "
        "records itself (header and body, a length prefix or its own patterns); remove "
        "read.multiline");
  }
  const uint64_t max = f.max_record_bytes;
  f = sdk::RecordFormat::StartRegex(c.read.multiline->start, c.read.multiline->max_lines);
  f.max_record_bytes = max;
  return ValidateRecordFormat(f).WithContext("read.multiline.start");
}

Result<ParserPtr> ParserSource::NewParser() const {
  if (factory_) {
    auto parser = factory_->Create(options_);
    if (!parser.ok()) return parser.status().WithContext(options_where_);
    return std::move(parser).value();
  }
  auto parser = CreateBuiltinParser(builtin_, options_);
  if (!parser.ok()) return parser.status().WithContext(options_where_);
  return ParserPtr(parser->release(), ParserDeleter{});
}

Result<StateMachinePtr> ParserSource::NewStateMachine() const {
  if (!factory_) return Status::Internal("no built-in state machine parsers");
  auto p = factory_->CreateStateMachine(options_);
  if (!p.ok()) return p.status().WithContext(options_where_);
  return std::move(p).value();
}

Result<MultiFileReaderPtr> ParserSource::NewMultiFile() const {
  if (!factory_) return Status::Internal("no built-in multi-file readers");
  auto p = factory_->CreateMultiFile(options_);
  if (!p.ok()) return p.status().WithContext(options_where_);
  return std::move(p).value();
}

}  // namespace weir
