// Test plugin "mlog": a multi-file reader (SDK shape 3) with one file type, LOG, holding
// multi-line log entries: an entry starts at a line "YYYY-MM-DD LEVEL message" and continues
// with every following line that does not start with a date. Document: {day, level, msg}; an
// entry whose LEVEL is not upper case is bad. Options:
//   {"mode": "lines"}   records are lines; Read() groups continuation lines with Peek() and
//                       reports a bad entry with DocumentError() (range from its first line)
//   {"mode": "legacy"}  the same, but reports it with Error(), which names the LAST record read
//   {"mode": "regex"}   records are whole entries (RecordFormat::StartRegex)
#include <weir/sdk.h>

#include <cctype>
#include <string>

namespace {

using weir::sdk::Document;
using weir::sdk::ReadResult;
using weir::sdk::Record;
using weir::sdk::RecordFormat;
using weir::sdk::RecordReader;
using weir::sdk::RecordType;

std::string_view Line(std::string_view rec) {
  if (!rec.empty() && rec.back() == '\n') rec.remove_suffix(1);
  return rec;
}

bool StartsEntry(std::string_view line) {
  return line.size() >= 11 && std::isdigit(static_cast<unsigned char>(line[0])) &&
         line[4] == '-' && line[7] == '-' && line[10] == ' ';
}

class MlogReader : public weir::sdk::MultiFileReader {
 public:
  explicit MlogReader(const std::string& options)
      : regex_(options.find("\"regex\"") != std::string::npos),
        legacy_(options.find("\"legacy\"") != std::string::npos) {}
  std::vector<RecordType> file_types() const override {
    if (regex_) return {{"LOG", RecordFormat::StartRegex(R"(^\d{4}-\d{2}-\d{2} )", 100)}};
    return {{"LOG", RecordFormat{}}};  // one record per line
  }
  ReadResult Read(const std::vector<RecordReader*>& readers, Document& doc) override {
    RecordReader& log = *readers[0];
    Record r;
    if (!log.Next(r)) return ReadResult::End();
    if (r.problem != nullptr) return ReadResult::Error(0, r.problem);
    std::string text(Line(r.bytes));
    if (!regex_) {
      Record p;
      while (log.Peek(p) && p.problem == nullptr && !StartsEntry(Line(p.bytes))) {
        log.Next(p);
        text += "\n";
        text += Line(p.bytes);
      }
    }
    const size_t sp = text.find(' ', 11);
    const std::string level = text.substr(11, sp == std::string::npos ? std::string::npos : sp - 11);
    for (char c : level) {
      if (!std::isupper(static_cast<unsigned char>(c))) {
        const std::string why = "level '" + level + "' is not upper case";
        return legacy_ || regex_ ? ReadResult::Error(0, why) : ReadResult::DocumentError(0, why);
      }
    }
    doc.Set("day", text.substr(0, 10));
    doc.Set("level", level);
    doc.Set("msg", sp == std::string::npos ? std::string() : text.substr(sp + 1));
    return ReadResult::Doc();
  }

 private:
  bool regex_, legacy_;
};

}  // namespace

WEIR_PLUGIN("mlog", MlogReader, "multi-line log entries (multi-file reader, one file type)")
