// Reading and writing a test's S3 bucket (s3rver) without weir: boto3 (Debian's python3-boto3)
// scripts, so what weir wrote is checked by an independent S3 client. Shared by the S3 tests.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "e2e_util.h"

namespace weir::e2e {

inline bool HaveBoto3() {
  return RunCmd("/usr/bin/python3 -c 'import boto3' 2>&1").exit_code == 0;
}

// Runs `body` as a boto3 script with `s3` (a client on `endpoint`), `bucket` and `keys(prefix)`
// (every object under prefix) defined, and `args` after the endpoint on its command line
// (sys.argv[2:]). Its output; a test failure with the output when it fails.
inline std::string Boto3(const std::string& endpoint, const std::string& bucket,
                         const std::string& body, const std::string& args) {
  const std::string script = (std::filesystem::temp_directory_path() /
                              ("weir-e2e-boto3-" + std::to_string(::getpid()) + ".py"))
                                 .string();
  TempCleanup::Get().Add(script);
  WriteAll(script,
           "import boto3, os, sys\n"
           "s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='S3RVER',\n"
           "                  aws_secret_access_key='S3RVER', region_name='us-east-1')\n"
           "bucket = '" + bucket + "'\n"
           "def keys(prefix):\n"
           "    for page in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=prefix):\n"
           "        for o in page.get('Contents', []):\n"
           "            yield o\n" +
               body);
  auto r = RunCmd("/usr/bin/python3 " + script + " " + endpoint + " " + args + " 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return r.exit_code == 0 ? r.out : "error: " + r.out;
}

// Uploads every file directly in `dir` (not its folders) to s3://bucket/`prefix`<name>. Empty
// on success, else why.
inline std::string UploadDir(const std::string& endpoint, const std::string& bucket,
                             const std::string& dir, const std::string& prefix) {
  std::string out = Boto3(endpoint, bucket,
                          "for name in sorted(os.listdir(sys.argv[2])):\n"
                          "    path = os.path.join(sys.argv[2], name)\n"
                          "    if os.path.isfile(path):\n"
                          "        s3.upload_file(path, bucket, sys.argv[3] + name)\n",
                          "'" + dir + "' '" + prefix + "'");
  return out.rfind("error: ", 0) == 0 ? out : "";
}

// Every key under `prefix` with its size.
inline std::map<std::string, uint64_t> ListBucket(const std::string& endpoint,
                                                  const std::string& bucket,
                                                  const std::string& prefix) {
  std::istringstream lines(Boto3(endpoint, bucket,
                                 "for o in keys(sys.argv[2]): print(o['Key'], o['Size'])\n",
                                 "'" + prefix + "'"));
  std::map<std::string, uint64_t> out;
  std::string key;
  uint64_t size = 0;
  while (lines >> key >> size) out[key] = size;
  return out;
}

// Copies every object under `prefix` to `dir`/<key>, for DuckDB to read.
inline void DownloadBucket(const std::string& endpoint, const std::string& bucket,
                           const std::string& prefix, const std::string& dir) {
  Boto3(endpoint, bucket,
        "for o in keys(sys.argv[2]):\n"
        "    path = os.path.join(sys.argv[3], o['Key'])\n"
        "    os.makedirs(os.path.dirname(path), exist_ok=True)\n"
        "    s3.download_file(bucket, o['Key'], path)\n",
        "'" + prefix + "' '" + dir + "'");
}

}  // namespace weir::e2e
