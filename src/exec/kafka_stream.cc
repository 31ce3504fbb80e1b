#include "exec/kafka_stream.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/interrupt.h"
#include "core/text.h"
#include "exec/iceberg_table.h"
#include "exec/lake_maintenance.h"
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
  TaskRow task;  // as claimed: task.attempts is this process's claim (Store::ClaimTask)
  std::unique_ptr<TaskExecutor> exec;
  TaskCounters committed;  // the counters as of this process's last commit of the partition
  // Event times (ms) of the rows buffered since the last commit, for StreamMetrics: one
  // vector per partition, since partitions are fed on several threads.
  std::vector<int64_t> event_ms;
};

class KafkaStream {
 public:
  explicit KafkaStream(const KafkaRunContext& c)
      : c_(c), cfg_(*c.config), store_(*c.store), tag_(c.run_tag + "-k"),
        out_(cfg_, store_, c.schema, tag_, c.iceberg) {
    out_.set_dedup(c.dedup);
    out_.set_rules(c.rules);
    out_.set_pipelined(cfg_.stream.pipeline);
    out_.set_commit_seconds(static_cast<double>(cfg_.stream.commit_interval_ms) / 1000.0);
    // Other members of the group may write the same table from other processes.
    out_.set_shared_writers(true);
    if (c.iceberg != nullptr) c.iceberg->set_shared_writers(true);
  }

  Result<std::string> Run() {
    // Our staging folders are ours while we live; recovery by other members leaves them alone.
    WEIR_ASSIGN_OR_RETURN(lease_, StagingLease::Acquire(cfg_, tag_));
    WEIR_RETURN_IF_ERROR(Connect());
    Status st = Loop();
    compactor_.Close();  // the final commits below start no compaction
    // No longer read: the rules stage must not take the end of reading for idleness.
    if (c_.idle != nullptr) c_.idle->since_ms.store(0, std::memory_order_release);
    if (st.ok() && dirty_) st = Commit();
    if (st.ok()) st = Settle();
    if (!st.ok()) {
      out_.Discard();  // nothing of a failed interval is committed, also not by the revoke below
      dirty_ = false;
    }
    // Leaving the group revokes (and commits, nothing by now) the assignment.
    stopping_ = true;
    Status closed = consumer_ ? consumer_->Close() : Status::OK();  // null: a rejoin failed
    if (st.ok()) st = closed;
    if (!st.ok()) {
      out_.Discard();
      return st;
    }
    return stopped_;
  }

 private:
  // Joins the group (again, after Rejoin's Close).
  Status Connect() {
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
    return Status::OK();
  }

  // What this process holds can no longer be committed (it was fenced, or the group took some
  // partitions away while others stay): drop it and every executor, whose checkpoints are now
  // ahead of the store, so nothing can commit past the dropped records. Loop() then rejoins
  // the group, and each partition assigned again resumes from its committed offset.
  void DropEverything() {
    // The staged files stay: the failed commit may have reached the store before failing (a
    // rename), and then they are committed files the next commit's recovery publishes. What was
    // refused is removed once this process is gone (its StagingLease is free).
    out_.Discard();
    kafka_ms_.clear();
    dirty_ = false;
    for (const auto& [tp, p] : parts_) AddGain(gone_, p.committed, start_[tp]);
    parts_.clear();
    start_.clear();
    c_.progress->tasks_total = 0;
    rejoin_ = true;
  }

  // Leaves the group and joins it again (after DropEverything).
  Status Rejoin() {
    rejoin_ = false;
    spdlog::warn("{}: leaving and rejoining the consumer group, so every partition resumes from "
                 "its committed offset",
                 cfg_.name);
    WEIR_RETURN_IF_ERROR(consumer_->Close());
    consumer_.reset();
    return Connect();
  }

  // After a failed commit: was it because another member took one of our partitions (its
  // attempts moved on since our claim)?
  Result<bool> Fenced() {
    for (const auto& [tp, p] : parts_) {
      WEIR_ASSIGN_OR_RETURN(TaskRow now, store_.Task(p.task.id));
      if (now.attempts != p.task.attempts) {
        spdlog::warn("{}: partition {} was taken by another member of the group (attempt {}, "
                     "ours {}); what this process read since its last commit is dropped, and "
                     "the new owner reads it",
                     cfg_.name, tp.ToString(), now.attempts, p.task.attempts);
        return true;
      }
    }
    return false;
  }

  Status Loop() {
    source::MessageBatch batch;
    last_data_ = Clock::now();
    for (;;) {
      if (rejoin_) WEIR_RETURN_IF_ERROR(Rejoin());
      WEIR_RETURN_IF_ERROR(consumer_->Poll(100, 10000, &batch));
      if (rejoin_) {
        // The batch's messages are read again after the rejoin, from the committed offsets.
        batch.Clear();
        continue;
      }
      const auto& msgs = batch.messages();
      // Not idle from the moment there is something to read (before it is processed).
      if (c_.idle != nullptr && !msgs.empty()) c_.idle->since_ms.store(0, std::memory_order_release);
      WEIR_RETURN_IF_ERROR(Feed(batch));
      if (!msgs.empty()) last_data_ = Clock::now();
      // The commit in flight (stream.pipeline) may have finished meanwhile.
      if (Status st = out_.PollCommitted(); !st.ok()) WEIR_RETURN_IF_ERROR(CommitFailed(st));
      // What waits in the partitions decides whether the stream is behind (catching up commits
      // by size or stream.catch_up_interval, not every commit_interval).
      bool lag_known = false;
      const uint64_t lag = UpdateLag(&lag_known);
      // No high watermark known yet (the first fetch has not answered): no backlog to judge by.
      if (lag_known || lag > 0) out_.SetBacklog(read_, lag);
      if (dirty_ && out_.ShouldCommit()) WEIR_RETURN_IF_ERROR(Commit());
      if (c_.idle != nullptr) {
        // Idle only once what was read is committed (the rules stage then has all of it), and
        // only when every assigned partition is known to be read to its end.
        const bool quiet = assigned_once_ && !rejoin_ && !parts_.empty() && msgs.empty() &&
                           lag_known && lag == 0 && !dirty_ && !out_.committing();
        c_.idle->since_ms.store(quiet ? UnixNowMs() - static_cast<int64_t>(Millis(last_data_)) : 0,
                                std::memory_order_release);
      }
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

  // Feeds the messages of `batch` to their partitions' executors (up to --max-records), each
  // message one record (a tombstone: one skipped). A partition's messages go to its executor in offset
  // order, on one thread; different partitions are parsed on up to compute.workers threads at
  // once (parsing, not the consumer, is what a stream's reader spends its time on). An SDK
  // parser is one instance: then one thread.
  Status Feed(const source::MessageBatch& batch) {
    const auto& msgs = batch.messages();
    struct Share {
      Partition* part;
      std::vector<size_t> messages;  // indexes into msgs, in order
    };
    std::vector<Share> shares;
    std::vector<int> share_of(batch.partitions().size(), -1);  // -2: not ours
    for (size_t i = 0; i < msgs.size(); ++i) {
      // Counted in messages of our partitions, as read_ is: the rest of the batch is read
      // again from the committed offsets by the next run.
      if (c_.max_records > 0 && read_ >= c_.max_records) break;
      const source::KafkaMessage& m = msgs[i];
      int& s = share_of[m.partition_index];
      if (s == -1) {
        auto it = parts_.find(batch.partitions()[m.partition_index]);
        // Not ours (any more): the consumer drops these; be safe.
        s = it == parts_.end() ? -2 : static_cast<int>(shares.size());
        if (s >= 0) shares.push_back(Share{&it->second, {}});
      }
      if (s < 0) continue;
      shares[static_cast<size_t>(s)].messages.push_back(i);
      if (c_.metrics != nullptr && !m.value_null && m.timestamp_ms >= 0) {
        kafka_ms_.push_back(m.timestamp_ms);
      }
      ++read_;
      dirty_ = true;
    }
    auto feed = [&](Share& share) -> Status {
      std::vector<RecordView> recs;
      TaskExecutor& exec = *share.part->exec;
      for (size_t i : share.messages) {
        const source::KafkaMessage& m = msgs[i];
        if (m.value_null) {
          if (!recs.empty()) WEIR_RETURN_IF_ERROR(exec.Feed(recs, recs.back().offset + 1));
          recs.clear();
          exec.Skip(1, static_cast<uint64_t>(m.offset) + 1);
          continue;
        }
        RecordView r;
        r.bytes = m.value;
        r.offset = static_cast<uint64_t>(m.offset);
        r.end_offset = r.range_end = r.offset + 1;
        r.number = r.offset;
        if (r.bytes.size() > cfg_.read.max_record_bytes) {
          r.oversize = true;
          r.bytes = r.bytes.substr(0, cfg_.read.max_record_bytes);
          r.problem = "message larger than read.max_record_bytes";
        }
        recs.push_back(r);
      }
      return recs.empty() ? Status::OK() : exec.Feed(recs, recs.back().offset + 1);
    };
    const size_t lanes = std::min<size_t>(
        shares.size(), c_.parser != nullptr ? 1 : static_cast<size_t>(std::max(1, cfg_.compute.workers)));
    if (lanes <= 1) {
      for (Share& share : shares) WEIR_RETURN_IF_ERROR(feed(share));
      return Status::OK();
    }
    // The largest shares first, so the lanes end together.
    std::stable_sort(shares.begin(), shares.end(), [](const Share& a, const Share& b) {
      return a.messages.size() > b.messages.size();
    });
    std::atomic<size_t> next{0};
    std::vector<Status> results(shares.size());
    auto lane = [&] {
      for (size_t k = next++; k < shares.size(); k = next++) results[k] = feed(shares[k]);
    };
    std::vector<std::thread> helpers;
    for (size_t l = 1; l < lanes; ++l) helpers.emplace_back(lane);
    lane();
    for (auto& t : helpers) t.join();
    for (const Status& st : results) WEIR_RETURN_IF_ERROR(st);
    return Status::OK();
  }

  // Hands every partition's pending rows and checkpoints to the store commit (with
  // stream.pipeline, to the commit thread: WorkerOutput::CommitAsync; reading goes on). The
  // metrics move the moment it is durable; then Committed() sends the same offsets to Kafka
  // (for lag tools only).
  Status Commit() {
    std::map<TopicPartition, TaskCounters> sealed;
    TaskCounters sum = gone_;  // this process's part, for the metrics
    for (const auto& [tp, p] : parts_) {
      sealed[tp] = p.exec->counters();
      AddGain(sum, sealed[tp], start_[tp]);
    }
    std::vector<int64_t> event_ms, kafka_ms = std::move(kafka_ms_);
    kafka_ms_.clear();
    for (auto& [tp, p] : parts_) {
      event_ms.insert(event_ms.end(), p.event_ms.begin(), p.event_ms.end());
      p.event_ms.clear();
    }
    dirty_ = false;
    WorkerOutput::OnDurable metrics;
    if (c_.metrics != nullptr) {
      metrics = [m = c_.metrics, sum, event_ms = std::move(event_ms),
                 kafka_ms = std::move(kafka_ms)](const WorkerOutput::Committed& c) {
        m->read = sum.read;
        m->written = sum.written;
        m->skipped = sum.skipped;
        m->errored = sum.errored;
        m->duplicates = sum.duplicates;
        m->commits.fetch_add(1, std::memory_order_relaxed);
        m->last_commit_unix_ms = c.finished_unix_ms;
        m->commit_seconds.Observe(c.seconds);
        const int64_t now_ms = c.finished_unix_ms;
        for (int64_t t : event_ms) m->end_to_end_seconds.Observe(static_cast<double>(now_ms - t) / 1000.0);
        for (int64_t t : kafka_ms) m->kafka_seconds.Observe(static_cast<double>(now_ms - t) / 1000.0);
      };
    }
    Status st = out_.CommitAsync(
        [this, sealed = std::move(sealed)](const WorkerOutput::Committed&) {
          Committed(sealed);
          compactor_.AfterCommit(c_.run_tag);
          return Status::OK();
        },
        std::move(metrics));
    return st.ok() ? st : CommitFailed(st);
  }

  // Waits for the commit in flight, if any.
  Status Settle() {
    Status st = out_.WaitCommitted();
    return st.ok() ? st : CommitFailed(st);
  }

  // A commit failed (WorkerOutput discarded everything uncommitted with it). Because another
  // member took a partition, or committed some of these records first: drop everything and
  // read again from the committed offsets. Otherwise the error ends the run.
  Status CommitFailed(const Status& st) {
    bool again = IsDedupRace(st);
    if (again) {
      // Another member committed some of these records first (the same event in two
      // partitions): read again from the committed offsets, where write.dedup drops them.
      spdlog::warn("{}: {}; what was read since the last commit is read again", cfg_.name,
                   st.message());
    } else {
      WEIR_ASSIGN_OR_RETURN(again, Fenced());
    }
    if (!again) return st;
    DropEverything();
    return Status::OK();
  }

  // A commit became durable: `sealed` are the partitions' counters it holds (a partition
  // revoked since is not ours to report).
  void Committed(const std::map<TopicPartition, TaskCounters>& sealed) {
    std::map<TopicPartition, int64_t> next;
    for (const auto& [tp, counters] : sealed) {
      auto it = parts_.find(tp);
      if (it == parts_.end()) continue;
      it->second.committed = counters;
      next[tp] = static_cast<int64_t>(counters.offset);
    }
    if (!next.empty()) (void)consumer_->CommitOffsets(next);
  }

  // Messages in the assigned partitions after the next offset each will read (the consumer's
  // latest high watermarks; librdkafka's prefetched messages count as waiting); also published
  // as the lag metrics.
  // `known`: every assigned partition's high watermark is known (the total is then exact).
  uint64_t UpdateLag(bool* known = nullptr) {
    if (known != nullptr) *known = false;
    auto high = consumer_->HighWatermarks();
    if (!high.ok()) return 0;
    uint64_t total = 0;
    bool all = true;
    std::map<std::string, uint64_t> lags;
    for (const auto& [tp, p] : parts_) {
      auto h = high->find(tp);
      if (h == high->end() || h->second < 0) {
        all = false;
        continue;
      }
      const int64_t lag = h->second - static_cast<int64_t>(p.exec->counters().offset);
      lags[tp.ToString()] = lag > 0 ? static_cast<uint64_t>(lag) : 0;
      total += lags[tp.ToString()];
    }
    if (c_.metrics != nullptr) {
      c_.metrics->SetPartitionLags(std::move(lags));
      c_.metrics->lag_messages = total;
    }
    if (known != nullptr) *known = all;
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
      // Our claim: from now on, a member that held the partition before cannot commit it.
      WEIR_ASSIGN_OR_RETURN(TaskRow task, store_.ClaimTask(t->second.id));
      auto exec = std::make_unique<TaskExecutor>(cfg_, *c_.progress, task, *c_.transforms, out_,
                                                 c_.parser, c_.format);
      WEIR_RETURN_IF_ERROR(exec->Open());
      // Committed before: go on exactly after the last committed message.
      if (task.seq > 0) offsets[tp] = static_cast<int64_t>(task.counters.offset);
      start_[tp] = task.counters;
      const TaskCounters committed = task.counters;
      Partition& p = parts_[tp];
      p = Partition{std::move(task), std::move(exec), committed, {}};
      if (c_.metrics != nullptr) p.exec->KeepEventTimes(&p.event_ms);
    }
    c_.progress->tasks_total = parts_.size();
    last_data_ = Clock::now();  // --until-idle counts from when there is something to read
    assigned_once_ = true;
    out_.StartInterval();
    spdlog::info("{}: assigned {} partition(s)", cfg_.name, tps.size());
    return offsets;
  }

  Status Revoke(const std::vector<TopicPartition>& tps, bool lost) {
    if (!lost) {
      // Ours until we return: commit what we hold (and wait for it), so the next owner starts
      // after it.
      if (dirty_) WEIR_RETURN_IF_ERROR(Commit());
      WEIR_RETURN_IF_ERROR(Settle());
    } else {
      // Another member may own them already: what we hold must never be committed (and the
      // store would refuse it: the new owner's claim fences ours).
      spdlog::warn("{}: the consumer group took {} partition(s) away without a rebalance (the "
                   "session timed out?); what was read since the last commit is dropped",
                   cfg_.name, tps.size());
      const bool others_stay = tps.size() < parts_.size();
      for (const auto& tp : tps) {
        auto it = parts_.find(tp);
        if (it == parts_.end()) continue;
        (void)store_.SetStatus(it->second.task.id, TaskStatus::kInterrupted,
                               "the consumer group took the partition away; another member goes on",
                               it->second.task.attempts);
      }
      // The executors of partitions we keep are ahead of what is committed: rejoin.
      DropEverything();
      if (!others_stay) rejoin_ = false;  // nothing kept: the next assignment starts afresh
      return Status::OK();
    }
    for (const auto& tp : tps) {
      auto it = parts_.find(tp);
      if (it == parts_.end()) continue;
      const TaskCounters& now = it->second.exec->counters();
      AddGain(gone_, now, start_[tp]);
      const std::string reason =
          stopping_ ? (stopped_.empty() ? std::string("stream stopped by a signal")
                                        : "stream stopped: " + stopped_) +
                          "; `weir run` goes on from offset " + std::to_string(now.offset)
                    : "the consumer group gave the partition to another member at offset " +
                          std::to_string(now.offset);
      (void)store_.SetStatus(it->second.task.id, TaskStatus::kInterrupted, reason,
                             it->second.task.attempts);
      parts_.erase(it);
      start_.erase(tp);
    }
    c_.progress->tasks_total = parts_.size();
    return Status::OK();
  }

  const KafkaRunContext& c_;
  const DatasetConfig& cfg_;
  Store& store_;
  const std::string tag_;  // this process's writer tag: its file names and staging folders
  // Declared before out_, so it is released after out_ (and any commit of its) is gone.
  std::unique_ptr<StagingLease> lease_;
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
  bool rejoin_ = false;
  // The Kafka timestamps (ms since the epoch) of the messages read since the last commit, for
  // StreamMetrics.
  std::vector<int64_t> kafka_ms_;
  std::string stopped_;
  // write.compaction.auto while the stream runs. Declared last: destroyed (so waited for)
  // first.
  BackgroundCompactor compactor_{cfg_, store_};
};

}  // namespace

Result<std::string> RunKafkaStream(const KafkaRunContext& context) {
  KafkaStream stream(context);
  return stream.Run();
}

}  // namespace weir
