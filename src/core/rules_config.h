// The `rules:` section of a dataset (issue 11; docs/rules.md): plain values as the loader read
// them. Expressions are kept as text here and compiled by the engine (rules/engine.h), which the
// loader also asks to compile them so that a bad expression is a config error with its line.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace weir::rules {

struct StepConfig {
  std::string as;       // the alias `emit` refers to
  std::string where;    // expression text
  int64_t within_ms = 0;  // 0: none (the first step)
  int line = 0;
};

struct AbsentConfig {
  std::string where;
  int64_t within_ms = 0;
  int line = 0;
};

struct EmitField {
  std::string name;    // the field of `data`
  std::string alias;   // a step's `as`
  std::string column;  // a column of the dataset
  int line = 0;
};

struct PatternConfig {
  std::string name;
  std::string key;  // a column
  std::vector<StepConfig> sequence;
  std::optional<AbsentConfig> absent;
  std::vector<EmitField> emit;
  int line = 0;
};

struct AggregateConfig {
  std::string name;
  std::string text;  // "count(*) where ..."
  int line = 0;
};

struct BucketConfig {
  std::string name;
  std::string when;  // empty: the default (the last bucket)
  int line = 0;
};

struct SegmentConfig {
  std::string name;
  std::string key;
  int64_t window_ms = 0;
  std::vector<AggregateConfig> aggregates;
  std::vector<BucketConfig> buckets;
  int line = 0;
};

struct OutputConfig {
  std::string connector = "lake";  // lake | kafka
  // lake: the derived table is location/table.
  std::string location;  // absolute lake root
  std::string table = "derived";
  // lake: rules.output.compaction, as write.compaction is for the dataset's own table.
  bool compaction_auto = false;
  int compaction_min_files = 8;
  int64_t compaction_interval_ms = 300000;
  // kafka: JSON messages on `topic`, written in transactions with a progress marker on
  // `progress_topic` (docs/rules.md, the Kafka output).
  std::string brokers;
  std::string topic;
  std::string progress_topic;    // default: <topic>.weir-progress
  std::string transactional_id;  // default: weir-rules-<dataset>
  std::map<std::string, std::string> kafka_settings;  // output.options: librdkafka settings
};

struct RulesConfig {
  std::string event_time;  // a timestamp_ms column
  int64_t out_of_orderness_ms = 0;
  int64_t idle_timeout_ms = 10000;
  int threads = 0;  // the engine's shards (rules::Engine::Create); 0: compute.workers
  OutputConfig output;
  std::vector<PatternConfig> patterns;
  std::vector<SegmentConfig> segments;
};

}  // namespace weir::rules
