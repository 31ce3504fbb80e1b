// logfile: an example weir parser plugin for simple application logs, one event a line:
//
//   2024-06-01T10:00:00Z INFO  [checkout] user=u42 took=120ms
//
// becomes the document
//
//   {"ts": "2024-06-01T10:00:00Z", "level": "INFO", "component": "checkout",
//    "message": "user=u42 took=120ms", "fields": {"user": "u42", "took_ms": 120}}
//
// Lines starting with '#' and blank lines are skipped; lines below the `min_level` option are
// skipped; any other line that does not have this shape is an error record with the reason.
// With the option {"multiline": true}, the lines after an event's line up to the next event (a
// stack trace) belong to it and become its "trace" field (RecordFormat::StartRegex).
// Copy this folder to start your own plugin: it depends only on weir's SDK header (weir::sdk) and
// nlohmann/json for reading the options.
#include <weir/sdk.h>

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

constexpr std::array<std::string_view, 6> kLevels = {"TRACE", "DEBUG", "INFO",
                                                     "WARN",  "ERROR", "FATAL"};

// Index of `level` in kLevels, or -1.
int LevelRank(std::string_view level) {
  for (size_t i = 0; i < kLevels.size(); ++i) {
    if (kLevels[i] == level) return static_cast<int>(i);
  }
  return -1;
}

std::string LevelList() {
  std::string out;
  for (std::string_view l : kLevels) {
    if (!out.empty()) out += ", ";
    out += l;
  }
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t'; }
bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_';
}

// Length of an ISO 8601 UTC timestamp at the start of `s` ("YYYY-MM-DDTHH:MM:SS", optional
// ".fraction", then "Z"), or 0 when `s` does not start with one.
size_t TimestampLength(std::string_view s) {
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  if (s.size() < kShape.size() + 1) return 0;
  for (size_t i = 0; i < kShape.size(); ++i) {
    if (kShape[i] == 'd' ? !IsDigit(s[i]) : s[i] != kShape[i]) return 0;
  }
  size_t i = kShape.size();
  if (i < s.size() && s[i] == '.') {
    size_t digits = 0;
    for (++i; i < s.size() && IsDigit(s[i]); ++i) ++digits;
    if (digits == 0) return 0;
  }
  return i < s.size() && s[i] == 'Z' ? i + 1 : 0;
}

std::string_view SkipSpaces(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  return s.substr(i);
}

// "123" -> 123; anything else (empty, signs, overflow) -> -1.
int64_t ParseCount(std::string_view s) {
  if (s.empty() || s.size() > 18) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

class LogfileParser : public weir::sdk::Parser {
 public:
  // Options: {"min_level": "INFO"}; unknown keys are rejected so a typo does not silently do
  // nothing. The WEIR_PLUGIN macro turns the exception into the dataset's error message.
  explicit LogfileParser(const std::string& options_json) {
    nlohmann::json options = nlohmann::json::parse(options_json, nullptr, false);
    if (options.is_discarded() || !options.is_object()) {
      throw std::invalid_argument("logfile options must be a JSON object, got: " + options_json);
    }
    for (const auto& [key, value] : options.items()) {
      if (key == "min_level") {
        if (!value.is_string() || LevelRank(value.get<std::string>()) < 0) {
          throw std::invalid_argument("logfile option min_level: expected one of " + LevelList() +
                                      ", got " + value.dump());
        }
        min_rank_ = LevelRank(value.get<std::string>());
      } else if (key == "multiline") {
        if (!value.is_boolean()) {
          throw std::invalid_argument("logfile option multiline: expected true or false, got " +
                                      value.dump());
        }
        multiline_ = value.get<bool>();
      } else {
        throw std::invalid_argument("logfile: unknown option '" + key +
                                    "'; the only option is min_level (and multiline)");
      }
    }
  }

  std::string_view file_type() const override { return "logfile"; }

  // One record a line: start where the previous line ended, end just after the '\n' (which is
  // part of the record); the last line may lack its '\n' (eof_ends_record defaults to true).
  // With {"multiline": true}, an event is a line starting with a timestamp plus the lines that
  // follow it up to the next such line (a stack trace): the engine delimits it, so offsets,
  // excerpts and checkpoints cover the whole event. Lines before the first event are an error
  // record ("bytes outside any record") unless blank.
  weir::sdk::RecordFormat format() const override {
    if (multiline_) {
      return weir::sdk::RecordFormat::StartRegex(R"(^\d{4}-\d{2}-\d{2}T)", /*max_lines=*/1000);
    }
    weir::sdk::RecordFormat f;
    f.kind = weir::sdk::RecordFormat::Kind::kPatterns;
    f.start = "";
    f.end = "\n";
    return f;
  }

  weir::sdk::ParseResult Parse(const weir::sdk::RecordContext& ctx, std::string_view record,
                               weir::sdk::Document& doc) override {
    (void)ctx;  // offsets and file names are added to error records by the engine
    using weir::sdk::ParseResult;
    std::string_view line = record;
    std::string_view trace;  // multiline: the lines after the first
    if (multiline_) {
      const size_t nl = line.find('\n');
      if (nl != std::string_view::npos) {
        trace = line.substr(nl + 1);
        line = line.substr(0, nl);
      }
    }
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (SkipSpaces(line).empty()) return ParseResult::Skip("blank line");
    if (line.front() == '#') return ParseResult::Skip("comment");

    const size_t ts_len = TimestampLength(line);
    if (ts_len == 0) {
      return ParseResult::Error("no timestamp at start of line: expected YYYY-MM-DDTHH:MM:SSZ");
    }
    const std::string_view ts = line.substr(0, ts_len);
    std::string_view rest = line.substr(ts_len);
    if (rest.empty() || !IsSpace(rest.front())) {
      return ParseResult::Error(rest.empty() ? "no level after timestamp"
                                             : "no space after timestamp");
    }
    rest = SkipSpaces(rest);
    size_t level_len = 0;
    while (level_len < rest.size() && !IsSpace(rest[level_len])) ++level_len;
    if (level_len == 0) return ParseResult::Error("no level after timestamp");
    const std::string_view level = rest.substr(0, level_len);
    const int rank = LevelRank(level);
    if (rank < 0) {
      return ParseResult::Error("unknown level '" + std::string(level) + "': expected one of " +
                                LevelList());
    }
    if (rank < min_rank_) {
      return ParseResult::Skip("level " + std::string(level) + " below min_level " +
                               std::string(kLevels[min_rank_]));
    }
    rest = SkipSpaces(rest.substr(level_len));
    if (rest.empty() || rest.front() != '[') {
      return ParseResult::Error("no [component] after level");
    }
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return ParseResult::Error("unterminated [component]");
    const std::string_view component = rest.substr(1, close - 1);
    if (component.empty()) return ParseResult::Error("empty [component]");
    std::string_view message = SkipSpaces(rest.substr(close + 1));
    while (!message.empty() && IsSpace(message.back())) message.remove_suffix(1);

    doc.Set("ts", ts);
    doc.Set("level", level);
    doc.Set("component", component);
    doc.Set("message", message);
    AddFields(message, doc.AddObject("fields"));
    if (!trace.empty()) doc.Set("trace", trace);
    return ParseResult::Doc();
  }

 private:
  // Words of the message shaped key=value become fields: "took=120ms" -> took_ms: 120,
  // "n=7" -> n: 7, anything else a string. Other words are left in the message only.
  static void AddFields(std::string_view message, weir::sdk::Document::Object fields) {
    while (!message.empty()) {
      message = SkipSpaces(message);
      size_t end = 0;
      while (end < message.size() && !IsSpace(message[end])) ++end;
      const std::string_view word = message.substr(0, end);
      message = message.substr(end);
      const size_t eq = word.find('=');
      if (eq == 0 || eq == std::string_view::npos) continue;
      const std::string_view key = word.substr(0, eq);
      const std::string_view value = word.substr(eq + 1);
      bool valid_key = true;
      for (char c : key) valid_key = valid_key && IsKeyChar(c);
      if (!valid_key) continue;
      if (value.size() > 2 && value.substr(value.size() - 2) == "ms" &&
          ParseCount(value.substr(0, value.size() - 2)) >= 0) {
        fields.SetInt(std::string(key) + "_ms", ParseCount(value.substr(0, value.size() - 2)));
      } else if (ParseCount(value) >= 0) {
        fields.SetInt(key, ParseCount(value));
      } else {
        fields.Set(key, value);
      }
    }
  }

  int min_rank_ = 0;  // TRACE: keep everything
  bool multiline_ = false;
};

}  // namespace

WEIR_PLUGIN("logfile", LogfileParser, "Application log lines: <ts> <LEVEL> [component] message")
