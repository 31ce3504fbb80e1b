#include "exec/kafka_stream.h"

#include <chrono>
#include <map>
#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/interrupt.h"
#include "exec/runner.h"
#include "exec/stream_metrics.h"
#include "exec/task_executor.h"
#include "exec/worker_output.h"
#include "source/kafka_consumer.h"

namespace weir {
namespace {

using Clock = std::chrono::steady_clock;
using source::TopicPartition;

double Millis(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Adds what a task's counters gained since `was` to `into` (this process's part, for metrics).
void AddGain(TaskCounters& into, const TaskCounters& now, const TaskCounters& was) {
  into.read += now.read - was.read;
  into.written += now.written - was.written;
  into.skipped += now.skipped - was.skipped;
  into.errored += now.errored - was.errored;
  into.duplicates += now.duplicates - was.duplicates;
}

// One assigned partition: its task and the executor feeding its records to the output.
struct Partition {
  TaskRow task;
  std::unique_ptr<TaskExecutor> exec;
};

class KafkaStream {
 public:
  explicit KafkaStream(const KafkaRunContext& c)
      : c_(c), cfg_(*c.config), store_(*c.store),
        out_(cfg_, store_, c.schema, c.run_tag + "-k", c.iceberg) {
    out_.set_dedup(c.dedup);
    out_.set_commit_seconds(static_cast<double>(cfg_.stream.commit_interval_ms) / 1000.0);
  }

  Result<std::string> Run() {
    source::KafkaConsumerOptions o;
    o.brokers = cfg_.read.brokers;
    o.topics = cfg_.read.topics;
    o.group = cfg_.read.group;
    o.start = cfg_.read.start;
    o.client_id = "weir-" + cfg_.name;
    o.settings = cfg_.read.kafka_settings;
    source::KafkaConsumerCallbacks cb;
    cb.on_assign = [this](const std::vector<TopicPartition>& tps) { return Assign(tps); };
    cb.on_revoke = [this](const std::vector<TopicPartition>& tps, bool lost) {
      return Revoke(tps, lost);
    };
    auto consumer = source::KafkaConsumer::Create(std::move(o), std::move(cb));
    if (!consumer.ok()) return consumer.status().WithContext("read (kafka)");
    consumer_ = std::move(consumer).value();
    Status st = Loop();
    if (st.ok() && dirty_) st = Commit();
    if (!st.ok()) {
      out_.Discard();  // nothing of a failed interval is committed, also not by the revoke below
      dirty_ = false;
    }
    // Leaving the group revokes (and commits, nothing by now) the assignment.
    stopping_ = true;
    Status closed = consumer_->Close();
    if (st.ok()) st = closed;
    if (!st.ok()) {
      out_.Discard();
      return st;
    }
    return stopped_;
  }

 private:
  Status Loop() {
    source::MessageBatch batch;
    std::vector<RecordView> recs;
    last_data_ = Clock::now();
    for (;;) {
      WEIR_RETURN_IF_ERROR(consumer_->Poll(100, 10000, &batch));
      const auto& msgs = batch.messages();
      for (size_t i = 0; i < msgs.size();) {
        if (c_.max_records > 0 && read_ >= c_.max_records) break;
        const source::KafkaMessage& m = msgs[i];
        const TopicPartition& tp = batch.partitions()[m.partition_index];
        auto it = parts_.find(tp);
        if (it == parts_.end()) {  // not ours (any more): the consumer drops these; be safe
          ++i;
          continue;
        }
        if (m.value_null) {
          it->second.exec->Skip(1, static_cast<uint64_t>(m.offset) + 1);
          ++read_;
          dirty_ = true;
          ++i;
          continue;
        }
        // A run of consecutive messages of this partition, each one record.
        recs.clear();
        size_t j = i;
        while (j < msgs.size() && msgs[j].partition_index == m.partition_index &&
               !msgs[j].value_null &&
               (c_.max_records == 0 || read_ + recs.size() < c_.max_records)) {
          RecordView r;
          r.bytes = msgs[j].value;
          r.offset = static_cast<uint64_t>(msgs[j].offset);
          r.end_offset = r.range_end = r.offset + 1;
          r.number = r.offset;
          if (r.bytes.size() > cfg_.read.max_record_bytes) {
            r.oversize = true;
            r.bytes = r.bytes.substr(0, cfg_.read.max_record_bytes);
            r.problem = "message larger than read.max_record_bytes";
          }
          recs.push_back(r);
          ++j;
        }
        WEIR_RETURN_IF_ERROR(
            it->second.exec->Feed(recs, static_cast<uint64_t>(msgs[j - 1].offset) + 1));
        read_ += recs.size();
        dirty_ = true;
        i = j;
      }
      if (!msgs.empty()) last_data_ = Clock::now();
      // What waits in the partitions decides whether the stream is behind (catching up commits
      // by size or stream.catch_up_interval, not every commit_interval).
      out_.SetBacklog(read_, UpdateLag());
      if (dirty_ && out_.ShouldCommit()) WEIR_RETURN_IF_ERROR(Commit());
      if (c_.max_records > 0 && read_ >= c_.max_records) {
        stopped_ = "read " + std::to_string(read_) + " records (--max-records)";
        return Status::OK();
      }
      if (StopRequested()) return Status::OK();
      // --until-idle counts from the first assignment: joining a group takes seconds.
      if (c_.until_idle_ms > 0 && assigned_once_ && msgs.empty() &&
          Millis(last_data_) >= static_cast<double>(c_.until_idle_ms)) {
        stopped_ = "no new data for " + FormatDurationMs(c_.until_idle_ms) + " (--until-idle)";
        return Status::OK();
      }
    }
  }

  // The store commit of every partition's pending rows and checkpoints, then (for lag tools
  // only) the same offsets to Kafka.
  Status Commit() {
    const Clock::time_point t0 = Clock::now();
    WEIR_RETURN_IF_ERROR(out_.Commit());
    dirty_ = false;
    std::map<TopicPartition, int64_t> next;
    for (const auto& [tp, p] : parts_) next[tp] = static_cast<int64_t>(p.exec->counters().offset);
    if (!next.empty()) (void)consumer_->CommitOffsets(next);
    if (StreamMetrics* m = c_.metrics) {
      TaskCounters sum = gone_;
      for (const auto& [tp, p] : parts_) AddGain(sum, p.exec->counters(), start_[tp]);
      m->read = sum.read;
      m->written = sum.written;
      m->skipped = sum.skipped;
      m->errored = sum.errored;
      m->duplicates = sum.duplicates;
      m->commits.fetch_add(1, std::memory_order_relaxed);
      m->last_commit_unix_ms = NowUnixMs();
      m->commit_seconds.Observe(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    return Status::OK();
  }

  // Messages in the assigned partitions after the next offset each will read (the consumer's
  // latest high watermarks; librdkafka's prefetched messages count as waiting); also published
  // as the lag metrics.
  uint64_t UpdateLag() {
    auto high = consumer_->HighWatermarks();
    if (!high.ok()) return 0;
    uint64_t total = 0;
    std::map<std::string, uint64_t> lags;
    for (const auto& [tp, p] : parts_) {
      auto h = high->find(tp);
      if (h == high->end()) continue;
      const int64_t lag = h->second - static_cast<int64_t>(p.exec->counters().offset);
      lags[tp.ToString()] = lag > 0 ? static_cast<uint64_t>(lag) : 0;
      total += lags[tp.ToString()];
    }
    if (c_.metrics != nullptr) {
      c_.metrics->SetPartitionLags(std::move(lags));
      c_.metrics->lag_messages = total;
    }
    return total;
  }

  Result<std::map<TopicPartition, int64_t>> Assign(const std::vector<TopicPartition>& tps) {
    std::vector<std::pair<std::string, std::string>> entries;
    for (const auto& tp : tps) entries.emplace_back(tp.ToString(), "kafka:" + tp.ToString());
    WEIR_RETURN_IF_ERROR(store_.EnsureTasks(cfg_.name, entries));
    WEIR_ASSIGN_OR_RETURN(auto tasks, store_.Tasks(cfg_.name));
    std::map<std::string, TaskRow> by_entry;
    for (auto& t : tasks) by_entry[t.entry] = t;
    std::map<TopicPartition, int64_t> offsets;
    for (const auto& tp : tps) {
      auto t = by_entry.find(tp.ToString());
      if (t == by_entry.end()) return Status::Internal("no task for " + tp.ToString());
      WEIR_RETURN_IF_ERROR(store_.StartAttempt(t->second.id));
      WEIR_ASSIGN_OR_RETURN(TaskRow task, store_.Task(t->second.id));
      auto exec = std::make_unique<TaskExecutor>(cfg_, *c_.progress, task, *c_.transforms, out_,
                                                 c_.parser, c_.format);
      WEIR_RETURN_IF_ERROR(exec->Open());
      // Committed before: go on exactly after the last committed message.
      if (task.seq > 0) offsets[tp] = static_cast<int64_t>(task.counters.offset);
      start_[tp] = task.counters;
      parts_[tp] = Partition{std::move(task), std::move(exec)};
    }
    c_.progress->tasks_total = parts_.size();
    last_data_ = Clock::now();  // --until-idle counts from when there is something to read
    assigned_once_ = true;
    spdlog::info("{}: assigned {} partition(s)", cfg_.name, tps.size());
    return offsets;
  }

  Status Revoke(const std::vector<TopicPartition>& tps, bool lost) {
    if (!lost) {
      // Ours until we return: commit what we hold, so the next owner starts after it.
      if (dirty_) WEIR_RETURN_IF_ERROR(Commit());
    } else {
      // Another member may own them already: what we hold must never be committed.
      out_.Discard();
      dirty_ = false;
      if (tps.size() < parts_.size()) {
        // The executors of the partitions we keep are now ahead of what is committed, and
        // the consumer is past it too: stop, and resume from the store.
        return Status::Aborted(
            "the consumer group took partitions away (lost) while others stay assigned; weir "
            "stops so every partition resumes from its committed offset: run again");
      }
    }
    for (const auto& tp : tps) {
      auto it = parts_.find(tp);
      if (it == parts_.end()) continue;
      const TaskCounters& now = it->second.exec->counters();
      if (!lost) AddGain(gone_, now, start_[tp]);
      const std::string reason =
          stopping_ ? (stopped_.empty() ? std::string("stream stopped by a signal")
                                        : "stream stopped: " + stopped_) +
                          "; `weir run` goes on from offset " + std::to_string(now.offset)
          : lost ? "the consumer group took the partition away; another member goes on"
                 : "the consumer group gave the partition to another member at offset " +
                       std::to_string(now.offset);
      (void)store_.SetStatus(it->second.task.id, TaskStatus::kInterrupted, reason);
      parts_.erase(it);
      start_.erase(tp);
    }
    c_.progress->tasks_total = parts_.size();
    return Status::OK();
  }

  const KafkaRunContext& c_;
  const DatasetConfig& cfg_;
  Store& store_;
  WorkerOutput out_;
  std::unique_ptr<source::KafkaConsumer> consumer_;
  std::map<TopicPartition, Partition> parts_;
  std::map<TopicPartition, TaskCounters> start_;  // each partition's counters when assigned
  TaskCounters gone_;  // what partitions no longer assigned added (metrics)
  Clock::time_point last_data_;
  uint64_t read_ = 0;
  bool dirty_ = false;
  bool stopping_ = false;
  bool assigned_once_ = false;
  std::string stopped_;
};

}  // namespace

Result<std::string> RunKafkaStream(const KafkaRunContext& context) {
  KafkaStream stream(context);
  return stream.Run();
}

}  // namespace weir
