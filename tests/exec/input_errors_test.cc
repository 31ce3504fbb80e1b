// How read errors of input files reach a task's reason through the record reader of the
// multi-record shapes.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "exec/record_reader.h"

namespace weir {
namespace {

// Regression: a truncated gzip input of a multi-file reader failed its task with a reason that
// named the path twice ("/x/a.gz: /x/a.gz: gzip stream truncated ...").
TEST(InputErrorsTest, TruncatedGzipReasonNamesThePathOnce) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("weir-input-errors-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "record " + std::to_string(i) + "\n";
  const std::string path = (dir / "cut.log.gz").string();
  {
    gzFile gz = gzopen(path.c_str(), "wb");
    gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
    gzclose(gz);
  }
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  FileRecordReader::Options o;
  o.file_type = "LOG";
  o.path = path;
  sdk::RecordFormat lines;
  lines.end = "\n";
  o.formats = {lines};
  o.max_record_bytes = 1 << 20;
  auto r = FileRecordReader::Open(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  sdk::Record rec;
  while ((*r)->Next(rec)) {
  }
  ASSERT_EQ((*r)->state(), sdk::RecordReader::State::kFailed);
  const std::string& msg = (*r)->error().message();
  EXPECT_NE(msg.find("gzip stream truncated"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(path), msg.rfind(path)) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace weir
