#include "exec/parser_source.h"

#include "parse/builtin/builtin_parsers.h"

namespace weir {

bool ParserSource::UsesSdk(const DatasetConfig& c) {
  return c.read.parser != "jsonl" && c.read.parser != "csv";
}

Result<std::unique_ptr<ParserSource>> ParserSource::Create(const DatasetConfig& c) {
  std::unique_ptr<ParserSource> s(new ParserSource());
  s->options_ = c.read.options_json;
  const std::string& p = c.read.parser;
  if (p.rfind("plugin:", 0) == 0) {
    s->registry_ = std::make_unique<PluginRegistry>();
    for (const auto& lib : c.plugins) {
      WEIR_RETURN_IF_ERROR(s->registry_->Load(lib).WithContext(c.file + ": plugins"));
    }
    auto f = s->registry_->Find(p.substr(7));
    if (!f.ok()) return f.status().WithContext(c.file + ": read.parser");
    s->factory_ = *f;
  } else {
    s->builtin_ = p;
  }
  WEIR_ASSIGN_OR_RETURN(ParserPtr probe, s->NewParser());
  auto fmt = SafeFormat(*probe);
  if (!fmt.ok()) return fmt.status().WithContext(c.file + ": read.parser " + p);
  WEIR_RETURN_IF_ERROR(ValidateRecordFormat(*fmt).WithContext(c.file + ": read.parser " + p));
  s->format_ = *fmt;
  return s;
}

Result<ParserPtr> ParserSource::NewParser() const {
  if (factory_) {
    auto parser = factory_->Create(options_);
    if (!parser.ok()) return parser.status().WithContext("read.options");
    return std::move(parser).value();
  }
  auto parser = CreateBuiltinParser(builtin_, options_);
  if (!parser.ok()) return parser.status().WithContext("read.options");
  return ParserPtr(parser->release(), ParserDeleter{[](sdk::Parser* q) { delete q; }});
}

}  // namespace weir
