// Executes one datatask whose parser reads documents made of several records: a state machine
// parser (sdk::StateMachineParser, one file, record types in a fixed order) or a multi-file reader
// (sdk::MultiFileReader, several files read in step). The single-file Parser path lives in
// runner.cc; both feed the same WorkerOutput (exec/worker_output.h), so commits, error files and
// exactly-once publication are shared.
//
// Units: each document, skip or error the parser produces is one unit; the task's `read` counter
// counts units (not records), and a unit's records may come from several files. Checkpoints fall
// only between units; TaskCounters::state holds the checkpoint as JSON:
//   {"offsets":[o0,o1,...],"records":[n0,n1,...]}                 per file, in file-type order
//   plus for state machines "prev_type":t,"prev_offset":o,"prev_record":n (the record before
//   the checkpoint, re-read on resume so the parser sees the same context; prev_type -1: none).
// counters.offset / record_number mirror file 0; counters.bytes is the sum over files.
//
// Error records of these tasks carry, besides the usual fields (start/end offset, record number
// and excerpt of the bad record), "file_type" and "path" of the bad record's file, "document":
// {"<file type>":{"start_offset","end_offset","first_record","records"}} with the range every
// file contributed to the unit, and "resume": the checkpoint state just before the unit. Record-
// level redrive re-reads exactly those ranges from that state.
//
// Ownership: borrows everything it is given; owns its record readers and the unit being built.
// Thread-safety: none; one worker thread runs one executor at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "exec/store.h"
#include "weir/sdk.h"
#include "weir/status.h"

namespace weir {

class ParserSource;
class Transforms;
class WorkerOutput;
struct RunProgress;

// The plugin instance of the worker (exactly one is set, matching the source's shape).
struct ReaderInstance {
  sdk::StateMachineParser* state_machine = nullptr;
  sdk::MultiFileReader* multi_file = nullptr;
};

class ReaderTaskExecutor {
 public:
  ReaderTaskExecutor(const DatasetConfig& cfg, RunProgress& progress, const TaskRow& task,
                     const Transforms& transforms, WorkerOutput& out, const ParserSource& source,
                     ReaderInstance instance);
  ~ReaderTaskExecutor();

  // Reads the task from its checkpoint to the end of its files into the worker output,
  // committing whenever due. An error fails this task (retryable for read errors).
  Status Execute();

  // Record-level redrive: re-reads the ranges named by `error_lines` (the task's published error
  // records, JSON lines) with the current parser; counters move those units from `errored` to
  // what they are now. The checkpoint does not move.
  Status Reprocess(const std::vector<std::string>& error_lines, uint64_t* fixed,
                   uint64_t* skipped, uint64_t* still_failing);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The paths of a multi-file manifest entry ("WARC:crawl.warc.gz|CDX:crawl.cdx"), in the order of
// `types`, as written. Every declared type must appear exactly once; errors name the entry, the
// problem and the expected form. A reader with exactly one file type also accepts a bare path
// ("crawl.warc.gz" for "WARC:crawl.warc.gz").
Result<std::vector<std::string>> SplitMultiFileEntry(std::string_view entry,
                                                     const std::vector<sdk::RecordType>& types);

// The absolute paths of a multi-file manifest entry, in file-type order (relative paths are
// relative to read.location; the reader's ResolvePath is not applied). Errors as above.
Result<std::vector<std::string>> MultiFileEntryPaths(const DatasetConfig& config,
                                                     std::string_view entry,
                                                     const std::vector<sdk::RecordType>& types);

}  // namespace weir
