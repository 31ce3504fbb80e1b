// Tests of the plugin loader through real shared libraries: the example logfile plugin and the
// test plugins in tests/plugin/test_plugins (built as MODULE libraries by CMakeLists.txt).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "plugin/plugin_loader.h"

namespace weir {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string TestPlugin(const std::string& name) {
  return std::string(WEIR_TEST_PLUGIN_DIR) + "/lib" + name + ".so";
}

// The document as compact JSON text (keys in insertion order), for exact comparisons.
std::string ToJson(const sdk::Document& doc, uint32_t node = 0) {
  const auto& nodes = doc.nodes();
  const sdk::Document::Node& n = nodes[node];
  switch (n.kind) {
    case sdk::Document::Kind::kNull:
      return "null";
    case sdk::Document::Kind::kString:
      return "\"" + std::string(doc.text(n)) + "\"";
    case sdk::Document::Kind::kInt:
      return std::to_string(n.i);
    case sdk::Document::Kind::kDouble:
      return std::to_string(n.d);
    case sdk::Document::Kind::kBool:
      return n.i ? "true" : "false";
    case sdk::Document::Kind::kJson:
      return std::string(doc.text(n));
    case sdk::Document::Kind::kObject:
      break;
  }
  std::string out = "{";
  for (uint32_t i = node + 1; i < nodes.size(); ++i) {
    if (nodes[i].parent != node) continue;
    if (out.size() > 1) out += ",";
    out += "\"" + std::string(doc.key(nodes[i])) + "\":" + ToJson(doc, i);
  }
  return out + "}";
}

// "doc {...}", "skip: reason" or "error: reason".
std::string Describe(const sdk::ParseResult& r, const sdk::Document& doc) {
  switch (r.kind) {
    case sdk::ParseResult::Kind::kDocument:
      return "doc " + ToJson(doc);
    case sdk::ParseResult::Kind::kSkip:
      return "skip: " + r.reason;
    case sdk::ParseResult::Kind::kError:
      return "error: " + r.reason;
    case sdk::ParseResult::Kind::kContinue:
      return "continue";
    case sdk::ParseResult::Kind::kFail:
      return "fail: " + r.reason;
  }
  return "?";
}

// Runs `parser` over `text` split into lines the way RecordFormat{start "", end "\n"} delimits
// (the '\n' stays in the record; a last line without '\n' is a record too).
std::vector<std::string> ParseLines(sdk::Parser& parser, std::string_view text) {
  std::vector<std::string> out;
  sdk::Document doc;
  uint64_t number = 0, offset = 0;
  while (offset < text.size()) {
    size_t nl = text.find('\n', offset);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    sdk::RecordContext ctx{"logfile", "sample.log", offset, number++};
    doc.Clear();
    sdk::ParseResult r = SafeParse(parser, ctx, text.substr(offset, end - offset), doc);
    out.push_back(Describe(r, doc));
    offset = end;
  }
  return out;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "weir_plugin_test_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// ---- loading -------------------------------------------------------------------------------

TEST(PluginRegistryTest, LoadsFindsCreatesAndParses) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.Load(TestPlugin("echo_plugin")).ok());
  Result<ParserFactory> factory = registry.Find("echo");
  ASSERT_TRUE(factory.ok()) << factory.status().ToString();
  EXPECT_EQ(factory->name(), "echo");
  EXPECT_EQ(factory->description(), "echoes each line");
  EXPECT_EQ(factory->plugin_name(), "echo");
  EXPECT_EQ(factory->plugin_path(), TestPlugin("echo_plugin"));

  Result<ParserPtr> parser = factory->Create(R"({"prefix":"> "})");
  ASSERT_TRUE(parser.ok()) << parser.status().ToString();
  Result<sdk::RecordFormat> format = SafeFormat(**parser);
  ASSERT_TRUE(format.ok());
  EXPECT_EQ(format->end, "\n");
  EXPECT_EQ(SafeFileType(**parser).value(), "echo");

  sdk::Document doc;
  sdk::RecordContext ctx{"echo", "in.txt", 10, 3};
  sdk::ParseResult r = SafeParse(**parser, ctx, "hello\n", doc);
  EXPECT_EQ(Describe(r, doc), R"(doc {"line":"> hello","number":3,"file":"in.txt"})");
  doc.Clear();
  EXPECT_EQ(Describe(SafeParse(**parser, ctx, "skip\n", doc), doc), "skip: asked to skip");
  EXPECT_EQ(Describe(SafeParse(**parser, ctx, "bad\n", doc), doc), "error: asked to fail");
}

TEST(PluginRegistryTest, LoadingTheSameLibraryTwiceIsANoOp) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.Load(TestPlugin("echo_plugin")).ok());
  Status again = registry.Load(TestPlugin("echo_plugin"));
  EXPECT_TRUE(again.ok()) << again.ToString();
  ASSERT_EQ(registry.List().size(), 1u);
}

TEST(PluginRegistryTest, RelativePathIsRelativeToTheCurrentDirectory) {
  // A bare file name must not be searched in the library path.
  const fs::path old = fs::current_path();
  fs::current_path(WEIR_TEST_PLUGIN_DIR);
  PluginRegistry registry;
  Status st = registry.Load("libecho_plugin.so");
  Status missing = registry.Load("libc.so.6");
  fs::current_path(old);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(registry.List().at(0).plugin_path(), TestPlugin("echo_plugin"));
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
}

TEST(PluginRegistryTest, MissingFile) {
  PluginRegistry registry;
  Status st = registry.Load("/nonexistent/dir/libnothing.so");
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "plugin /nonexistent/dir/libnothing.so: file not found");
}

TEST(PluginRegistryTest, NotASharedLibrary) {
  TempDir dir;
  const std::string path = (dir.path() / "notes.so").string();
  std::ofstream(path) << "just text\n";
  PluginRegistry registry;
  Status st = registry.Load(path);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("plugin " + path + ": cannot load shared library: "));
  Status dir_st = registry.Load(dir.path().string());
  EXPECT_THAT(dir_st.message(), HasSubstr("is a directory, not a shared library"));
}

TEST(PluginRegistryTest, MissingEntrySymbol) {
  PluginRegistry registry;
  Status st = registry.Load(TestPlugin("no_entry_plugin"));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "plugin " + TestPlugin("no_entry_plugin") +
                ": not a weir plugin: it does not export the entry point 'weir_plugin_v1' "
                "(define it with the WEIR_PLUGIN macro of weir/sdk.h, with default visibility)");
  EXPECT_TRUE(registry.List().empty());
}

TEST(PluginRegistryTest, AbiVersionMismatch) {
  PluginRegistry registry;
  Status st = registry.Load(TestPlugin("bad_abi_plugin"));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "plugin " + TestPlugin("bad_abi_plugin") +
                              ": plugin ABI version 999 does not match this weir's ABI version " +
                              std::to_string(sdk::kAbiVersion) +
                              "; rebuild the plugin against this weir's include/weir/sdk.h");
  EXPECT_TRUE(registry.List().empty());
}

TEST(PluginRegistryTest, DuplicateParserNameAcrossPlugins) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.Load(TestPlugin("echo_plugin")).ok());
  Status st = registry.Load(TestPlugin("dup_plugin"));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "plugin " + TestPlugin("dup_plugin") +
                              ": parser name 'echo' is already provided by plugin " +
                              TestPlugin("echo_plugin") +
                              "; parser names must be unique across plugins");
  // The first plugin still owns the name; nothing of the rejected one was registered.
  ASSERT_EQ(registry.List().size(), 1u);
  EXPECT_EQ(registry.Find("echo")->plugin_path(), TestPlugin("echo_plugin"));
}

TEST(PluginRegistryTest, InvalidTables) {
  const std::string path = TestPlugin("invalid_table_plugin");
  const std::string where = "plugin " + path + ": ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"null_info", where + "weir_plugin_v1() returned no plugin table"},
      {"no_name", where + "plugin table has no plugin_name"},
      {"no_parsers", where + "plugin 'tables' provides no parsers"},
      {"null_name",
       where + "parser #1: invalid name '(null)': expected 1-128 letters, digits, '_', '.' or '-'"},
      {"bad_name", where + "parser #1: invalid name 'has space': expected 1-128 letters, digits, "
                           "'_', '.' or '-'"},
      {"null_create", where + "parser #1 'tbl_b': create function is null"},
      {"null_destroy", where + "parser #0 'tbl_a': destroy function is null"},
      {"twice", where + "parser name 'tbl_a' appears twice in the plugin's table"},
      {"bad_shape", where + "parser #1 'tbl_b': unknown shape 7 (expected 1 parser, 2 state machine, 3 multi-file)"},
  };
  for (const auto& [mode, expected] : cases) {
    SCOPED_TRACE(mode);
    setenv("WEIR_TEST_TABLE_MODE", mode.c_str(), 1);
    PluginRegistry registry;
    Status st = registry.Load(path);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(st.message(), expected);
    EXPECT_TRUE(registry.List().empty());
  }
  setenv("WEIR_TEST_TABLE_MODE", "ok", 1);
  PluginRegistry registry;
  ASSERT_TRUE(registry.Load(path).ok());
  std::vector<ParserFactory> all = registry.List();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name(), "tbl_a");
  EXPECT_EQ(all[1].description(), "second");
  unsetenv("WEIR_TEST_TABLE_MODE");
}

TEST(PluginRegistryTest, FindUnknownNameSuggests) {
  PluginRegistry empty;
  Result<ParserFactory> none = empty.Find("logfile");
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(none.status().message(),
            "unknown plugin parser 'logfile': no plugin is loaded; list the plugin library under "
            "`plugins:` in the dataset file");

  PluginRegistry registry;
  ASSERT_TRUE(registry.Load(TestPlugin("echo_plugin")).ok());
  ASSERT_TRUE(registry.Load(WEIR_LOGFILE_PLUGIN).ok());
  Result<ParserFactory> typo = registry.Find("logfiel");
  EXPECT_EQ(typo.status().message(),
            "unknown plugin parser 'logfiel' (did you mean 'logfile'?); loaded plugin parsers: "
            "echo, logfile");
  Result<ParserFactory> far = registry.Find("warc");
  EXPECT_EQ(far.status().message(),
            "unknown plugin parser 'warc'; loaded plugin parsers: echo, logfile");
}

TEST(PluginRegistryTest, FactoryOutlivesRegistryAndIsThreadSafe) {
  ParserFactory factory;
  {
    PluginRegistry registry;
    ASSERT_TRUE(registry.Load(TestPlugin("echo_plugin")).ok());
    factory = registry.Find("echo").value();
  }
  // One parser per thread, as the engine does.
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      ParserPtr p = factory.Create("{}").value();
      sdk::Document doc;
      for (int i = 0; i < 1000; ++i) {
        doc.Clear();
        sdk::RecordContext ctx{"echo", "f", 0, static_cast<uint64_t>(i)};
        (void)SafeParse(*p, ctx, "x" + std::to_string(t), doc);
      }
      results[t] = ToJson(doc);
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(results[3], R"({"line":"x3","number":999,"file":"f"})");
}

// ---- creating parsers ----------------------------------------------------------------------

TEST(ParserFactoryTest, RejectedOptionsCarryThePluginsMessage) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.Load(TestPlugin("rejecting_plugin")).ok());
  ParserFactory f = registry.Find("picky").value();
  EXPECT_TRUE(f.Create("{}").ok());
  Result<ParserPtr> bad = f.Create(R"({"colour":1})");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "plugin parser 'picky' (" + TestPlugin("rejecting_plugin") +
                R"() rejected its options {"colour":1}: unknown option in {"colour":1} )"
                "(picky takes no options)");
  Result<ParserPtr> weird = f.Create(R"({"weird":1})");
  EXPECT_THAT(weird.status().message(), HasSubstr(": unknown exception in parser constructor"));
}

// ---- guards --------------------------------------------------------------------------------

TEST(SafeCallTest, ExceptionsFromPluginCodeBecomeErrors) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.Load(TestPlugin("throwing_plugin")).ok());
  ParserFactory f = registry.Find("thrower").value();
  ParserPtr p = f.Create("{}").value();
  sdk::Document doc;
  sdk::RecordContext ctx{"thrower", "f", 0, 3};
  EXPECT_EQ(Describe(SafeParse(*p, ctx, "std\n", doc), doc),
            "error: parser threw: boom at record 3");
  doc.Clear();
  EXPECT_EQ(Describe(SafeParse(*p, ctx, "int\n", doc), doc),
            "error: parser threw: an exception that is not a std::exception");
  doc.Clear();
  EXPECT_EQ(Describe(SafeParse(*p, ctx, "fine\n", doc), doc),
            R"(doc {"partial":"yes","line":"fine"})");
  // Without throw_in every other method works.
  EXPECT_TRUE(SafeFormat(*p).ok());
  EXPECT_EQ(SafeBodyLength(*p, "abc").value(), 3);
  EXPECT_EQ(SafeResolvePath(*p, "a.log").value(), "resolved/a.log");

  auto make = [&](const std::string& method) {
    return f.Create(R"({"throw_in":")" + method + "\"}").value();
  };
  EXPECT_EQ(SafeFormat(*make("format")).status().message(),
            "parser threw in format(): format exploded");
  EXPECT_EQ(SafeFileType(*make("file_type")).status().message(),
            "parser threw in file_type(): file_type exploded");
  EXPECT_EQ(SafeBodyLength(*make("body_length"), "h").status().message(),
            "parser threw in BodyLength(): body_length exploded");
  EXPECT_EQ(SafeResolvePath(*make("resolve_path"), "x/y").status().message(),
            "parser threw in ResolvePath('x/y'): an exception that is not a std::exception");
}

// SafeParse also guards in-process parsers (built-ins wrapped the same way).
class InProcessThrower : public sdk::Parser {
 public:
  std::string_view file_type() const override { return "t"; }
  sdk::RecordFormat format() const override {
    sdk::RecordFormat f;
    f.kind = sdk::RecordFormat::Kind::kLengthPrefixed;
    f.prefix_bytes = 3;
    return f;
  }
  std::string ResolvePath(std::string_view) const override { return ""; }
  sdk::ParseResult Parse(const sdk::RecordContext&, std::string_view, sdk::Document&) override {
    throw std::logic_error("in-process");
  }
};

TEST(SafeCallTest, InProcessParser) {
  InProcessThrower p;
  sdk::Document doc;
  EXPECT_EQ(SafeParse(p, {}, "x", doc).reason, "parser threw: in-process");
  EXPECT_EQ(SafeFormat(p).status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(SafeFormat(p).status().message(), HasSubstr("parser format(): "));
  EXPECT_THAT(SafeFormat(p).status().message(), HasSubstr("prefix_bytes"));
  EXPECT_EQ(SafeResolvePath(p, "e").status().message(),
            "parser ResolvePath('e') returned an empty path");
}

// A deleter without a plugin destroy function deletes an in-process parser.
class Counted : public InProcessThrower {
 public:
  explicit Counted(int* alive) : alive_(alive) { ++*alive_; }
  ~Counted() override { --*alive_; }

 private:
  int* alive_;
};

TEST(ParserDeleterTest, NullDestroyDeletesInProcessParser) {
  int alive = 0;
  {
    ParserPtr p(new Counted(&alive), ParserDeleter{});
    EXPECT_EQ(alive, 1);
  }
  EXPECT_EQ(alive, 0);
  ParserFactory empty;
  EXPECT_EQ(empty.Create("{}").status().code(), StatusCode::kInternal);
}

// ---- the example logfile plugin ------------------------------------------------------------

class LogfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.Load(WEIR_LOGFILE_PLUGIN).ok());
    factory_ = registry_.Find("logfile").value();
  }
  ParserPtr Make(const std::string& options) {
    Result<ParserPtr> p = factory_.Create(options);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return std::move(p).value();
  }
  PluginRegistry registry_;
  ParserFactory factory_;
};

TEST_F(LogfileTest, FormatIsOneLineARecord) {
  ParserPtr p = Make("{}");
  sdk::RecordFormat f = SafeFormat(*p).value();
  EXPECT_EQ(f.kind, sdk::RecordFormat::Kind::kPatterns);
  EXPECT_EQ(f.start, "");
  EXPECT_EQ(f.end, "\n");
  EXPECT_TRUE(f.eof_ends_record);
  EXPECT_EQ(SafeFileType(*p).value(), "logfile");
}

TEST_F(LogfileTest, SampleFileGivesExactlyTheseResults) {
  std::ifstream in(std::string(WEIR_SOURCE_DIR) + "/examples/plugins/logfile/data/app.log");
  ASSERT_TRUE(in) << "missing examples/plugins/logfile/data/app.log";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ParserPtr p = Make(R"({"min_level":"INFO"})");
  const std::vector<std::string> expected = {
      "skip: comment",
      R"(doc {"ts":"2024-06-01T10:00:00Z","level":"INFO","component":"checkout")"
      R"(,"message":"user=u42 took=120ms")"
      R"(,"fields":{"user":"u42","took_ms":120}})",
      R"(skip: level DEBUG below min_level INFO)",
      R"(doc {"ts":"2024-06-01T10:00:01.250Z","level":"WARN","component":"payment")"
      R"(,"message":"retrying card user=u7 attempt=2")"
      R"(,"fields":{"user":"u7","attempt":2}})",
      "skip: blank line",
      R"(doc {"ts":"2024-06-01T10:00:02Z","level":"ERROR","component":"checkout")"
      R"(,"message":"payment declined user=u42 code=card_declined took=87ms")"
      R"(,"fields":{"user":"u42","code":"card_declined","took_ms":87}})",
      "error: no level after timestamp",
      "error: unknown level 'NOTICE': expected one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL",
      "error: no [component] after level",
      "error: no timestamp at start of line: expected YYYY-MM-DDTHH:MM:SSZ",
      "error: unterminated [component]",
      R"(doc {"ts":"2024-06-01T10:05:00Z","level":"INFO","component":"search")"
      R"(,"message":"")"
      R"(,"fields":{}})",
      R"(doc {"ts":"2024-06-01T10:06:00Z","level":"FATAL","component":"db")"
      R"(,"message":"connection pool exhausted")"
      R"(,"fields":{}})",
  };
  EXPECT_THAT(ParseLines(*p, text), ::testing::ElementsAreArray(expected));
}

TEST_F(LogfileTest, CrLfAndMissingFinalNewline) {
  ParserPtr p = Make("{}");
  EXPECT_THAT(
      ParseLines(*p,
                 "2024-06-01T10:00:00Z TRACE [a] n=1\r\n   \r\n"
                 "2024-06-01T10:00:00Z DEBUG [b] x=y"),
      ::testing::ElementsAre(R"(doc {"ts":"2024-06-01T10:00:00Z","level":"TRACE","component":"a")"
                             R"(,"message":"n=1")"
                             R"(,"fields":{"n":1}})",
                             "skip: blank line",
                             R"(doc {"ts":"2024-06-01T10:00:00Z","level":"DEBUG","component":"b")"
                             R"(,"message":"x=y")"
                             R"(,"fields":{"x":"y"}})"));
}

TEST_F(LogfileTest, MultilineOptionGivesStartRegexRecordsWithTrace) {
  ParserPtr p = Make(R"({"multiline":true})");
  sdk::RecordFormat f = SafeFormat(*p).value();
  EXPECT_EQ(f.kind, sdk::RecordFormat::Kind::kStartRegex);
  EXPECT_EQ(f.start, R"(^\d{4}-\d{2}-\d{2}T)");
  EXPECT_EQ(f.max_lines, 1000u);
  sdk::Document doc;
  sdk::RecordContext ctx{"logfile", "x.log", 0, 0};
  auto r = SafeParse(*p, ctx,
                     "2024-06-01T10:00:00Z ERROR [db] pool exhausted n=3\n"
                     "java.lang.IllegalStateException: no connection\n\tat Pool.get(Pool.java:9)",
                     doc);
  EXPECT_EQ(Describe(r, doc),
            R"(doc {"ts":"2024-06-01T10:00:00Z","level":"ERROR","component":"db")"
            R"(,"message":"pool exhausted n=3","fields":{"n":3})"
            ",\"trace\":\"java.lang.IllegalStateException: no connection\n\tat Pool.get(Pool.java:9)\"}");
  EXPECT_THAT(factory_.Create(R"({"multiline":"yes"})").status().message(),
              HasSubstr("logfile option multiline: expected true or false"));
}

TEST_F(LogfileTest, BadOptionsAreRejectedWithReasons) {
  EXPECT_THAT(factory_.Create(R"({"min_level":"LOUD"})").status().message(),
              HasSubstr(R"(: logfile option min_level: expected one of TRACE, DEBUG, INFO, WARN, )"
                        R"(ERROR, FATAL, got "LOUD")"));
  EXPECT_THAT(factory_.Create(R"({"min_levl":"INFO"})").status().message(),
              HasSubstr("logfile: unknown option 'min_levl'; the only option is min_level (and multiline)"));
  EXPECT_THAT(factory_.Create("[1]").status().message(),
              HasSubstr("logfile options must be a JSON object, got: [1]"));
}

// ---- the SDK package: install, then build the example standalone with find_package(weir) ----

int RunCommand(const std::string& cmd, std::string* output) {
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output->append(buf, n);
  return pclose(pipe);
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

TEST(SdkPackageTest, InstallThenBuildExampleWithFindPackage) {
  const std::string cmake = WEIR_CMAKE_COMMAND;
  if (!fs::exists(cmake)) GTEST_SKIP() << "cmake not found at " << cmake;
  TempDir dir;
  const std::string prefix = (dir.path() / "prefix").string();
  const std::string build = (dir.path() / "build").string();
  std::string log;
  ASSERT_EQ(RunCommand(Quote(cmake) + " --install " + Quote(WEIR_BINARY_DIR) + " --prefix " +
                           Quote(prefix),
                       &log),
            0)
      << log;
  EXPECT_TRUE(fs::exists(prefix + "/include/weir/sdk.h"));
  EXPECT_TRUE(fs::exists(prefix + "/include/weir/status.h"));
  EXPECT_TRUE(fs::exists(prefix + "/lib/cmake/weir/weirConfig.cmake"));
  EXPECT_TRUE(fs::exists(prefix + "/lib/cmake/weir/weirConfigVersion.cmake"));

  // Regression: the installed binary had a RUNPATH into the source tree's third_party/ and
  // libduckdb was not installed, so the prefix broke once the source tree was gone.
  ASSERT_TRUE(fs::exists(prefix + "/bin/weir"));
  EXPECT_TRUE(fs::exists(prefix + "/lib/libduckdb.so"));
  std::string dyn;
  ASSERT_EQ(RunCommand("readelf -d " + Quote(prefix + "/bin/weir"), &dyn), 0) << dyn;
  std::string runpaths;
  std::istringstream dyn_lines(dyn);
  for (std::string line; std::getline(dyn_lines, line);) {
    if (line.find("RUNPATH") != std::string::npos || line.find("RPATH") != std::string::npos) {
      runpaths += line + "\n";
    }
  }
  EXPECT_THAT(runpaths, HasSubstr("$ORIGIN/../lib"));
  EXPECT_THAT(runpaths, ::testing::Not(HasSubstr(WEIR_SOURCE_DIR)));
  EXPECT_THAT(runpaths, ::testing::Not(HasSubstr(WEIR_BINARY_DIR)));
  EXPECT_THAT(runpaths, ::testing::Not(HasSubstr("third_party")));
  // A copy of the prefix elsewhere runs with an empty environment: nothing from the build tree.
  const std::string moved = (dir.path() / "moved").string();
  fs::copy(prefix, moved, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  std::string help;
  EXPECT_EQ(RunCommand("env -i " + Quote(moved + "/bin/weir") + " --help", &help), 0) << help;
  EXPECT_THAT(help, HasSubstr("validate"));
  std::string ldd;
  EXPECT_EQ(RunCommand("env -i ldd " + Quote(moved + "/bin/weir"), &ldd), 0) << ldd;
  EXPECT_THAT(ldd, HasSubstr(moved + "/bin/../lib/libduckdb.so")) << ldd;

  // Regression: WEIR_ABI_VERSION was "inline;constexpr;uint32_t;kAbiVersion;=;1;" (the header
  // line, parsed wrongly), so `if(WEIR_ABI_VERSION EQUAL 1)` was false.
  const std::string abi_src = (dir.path() / "abi-check").string();
  fs::create_directories(abi_src);
  std::ofstream(abi_src + "/CMakeLists.txt")
      << "cmake_minimum_required(VERSION 3.16)\nproject(abi_check CXX)\n"
         "find_package(weir REQUIRED)\n"
         "if(NOT WEIR_ABI_VERSION EQUAL " << sdk::kAbiVersion << ")\n"
         "  message(FATAL_ERROR \"WEIR_ABI_VERSION is '${WEIR_ABI_VERSION}'\")\n"
         "endif()\n"
         "message(STATUS \"abi=${WEIR_ABI_VERSION}\")\n";
  std::string abi_log;
  ASSERT_EQ(RunCommand(Quote(cmake) + " -S " + Quote(abi_src) + " -B " +
                           Quote((dir.path() / "abi-build").string()) + " -G " +
                           Quote(WEIR_CMAKE_GENERATOR) + " -DCMAKE_PREFIX_PATH=" + Quote(moved),
                       &abi_log),
            0)
      << abi_log;
  EXPECT_THAT(abi_log, HasSubstr("abi=" + std::to_string(sdk::kAbiVersion) + "\n")) << abi_log;

  ASSERT_EQ(RunCommand(Quote(cmake) + " -S " +
                           Quote(std::string(WEIR_SOURCE_DIR) + "/examples/plugins/logfile") +
                           " -B " + Quote(build) + " -G " + Quote(WEIR_CMAKE_GENERATOR) +
                           " -DCMAKE_PREFIX_PATH=" + Quote(prefix),
                       &log),
            0)
      << log;
  ASSERT_EQ(RunCommand(Quote(cmake) + " --build " + Quote(build), &log), 0) << log;
  const std::string so = build + "/liblogfile.so";
  ASSERT_TRUE(fs::exists(so)) << log;

  // The standalone build loads and parses like the in-tree one.
  PluginRegistry registry;
  Status st = registry.Load(so);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ParserPtr p = registry.Find("logfile")->Create(R"({"min_level":"WARN"})").value();
  EXPECT_THAT(
      ParseLines(*p,
                 "2024-06-01T10:00:00Z INFO [a] x=1\n"
                 "2024-06-01T10:00:00Z WARN [a] user=u1\n"),
      ::testing::ElementsAre("skip: level INFO below min_level WARN",
                             R"(doc {"ts":"2024-06-01T10:00:00Z","level":"WARN","component":"a")"
                             R"(,"message":"user=u1")"
                             R"(,"fields":{"user":"u1"}})"));

  // The multi-file reader example (examples/plugins/webcrawl) builds the same way against the
  // installed package and loads as a multi-file reader with its two file types.
  const std::string build2 = (dir.path() / "build-webcrawl").string();
  ASSERT_EQ(RunCommand(Quote(cmake) + " -S " +
                           Quote(std::string(WEIR_SOURCE_DIR) + "/examples/plugins/webcrawl") +
                           " -B " + Quote(build2) + " -G " + Quote(WEIR_CMAKE_GENERATOR) +
                           " -DCMAKE_PREFIX_PATH=" + Quote(prefix),
                       &log),
            0)
      << log;
  ASSERT_EQ(RunCommand(Quote(cmake) + " --build " + Quote(build2), &log), 0) << log;
  const std::string so2 = build2 + "/libwebcrawl.so";
  ASSERT_TRUE(fs::exists(so2)) << log;
  PluginRegistry registry2;
  st = registry2.Load(so2);
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto factory = registry2.Find("webcrawl");
  ASSERT_TRUE(factory.ok()) << factory.status().ToString();
  EXPECT_EQ(factory->shape(), Shape::kMultiFile);
  auto reader = factory->CreateMultiFile("{}");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const auto types = (*reader)->file_types();
  ASSERT_EQ(types.size(), 2u);
  EXPECT_EQ(types[0].name, "WARC");
  EXPECT_EQ(types[1].name, "CDX");
  EXPECT_THAT(factory->CreateMultiFile(R"({"check_offset":"auto"})").status().message(),
              HasSubstr("unknown option 'check_offset'"));
}

}  // namespace
}  // namespace weir

namespace weir {
namespace {

TEST(PluginShapesTest, EachShapeCreatesOnlyAsItselfWithAClearMessage) {
  PluginRegistry registry;
  ASSERT_TRUE(registry.Load(std::string(WEIR_TEST_PLUGIN_DIR) + "/libexchange_plugin.so").ok());
  ASSERT_TRUE(registry.Load(std::string(WEIR_TEST_PLUGIN_DIR) + "/libpair_plugin.so").ok());
  ParserFactory sm = registry.Find("exchange").value();
  ParserFactory mf = registry.Find("pair").value();
  EXPECT_EQ(sm.shape(), Shape::kStateMachine);
  EXPECT_EQ(mf.shape(), Shape::kMultiFile);
  StateMachinePtr machine = sm.CreateStateMachine("{}").value();
  ASSERT_EQ(machine->record_types().size(), 3u);
  EXPECT_EQ(machine->record_types()[1].name, "response");
  EXPECT_EQ(machine->NextType(-1), 0);
  EXPECT_EQ(machine->NextType(2), 0);
  MultiFileReaderPtr reader = mf.CreateMultiFile("{}").value();
  EXPECT_EQ(reader->file_types().size(), 2u);

  Result<ParserPtr> wrong = sm.Create("{}");
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("is a state machine parser, used here as a parser"),
            std::string::npos)
      << wrong.status().message();
  Result<StateMachinePtr> wrong2 = mf.CreateStateMachine("{}");
  EXPECT_NE(wrong2.status().message().find("is a multi-file reader, used here as a state machine"),
            std::string::npos)
      << wrong2.status().message();
}

}  // namespace
}  // namespace weir
