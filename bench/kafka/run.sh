#!/usr/bin/env bash
# Kafka stream benchmark: weir consuming a topic into the lake vs weir's own batch run of the
# same events as files.
#
#   bench/kafka/run.sh WEIR_BINARY
#
# 1. `weir gen events` writes KAFKA_COUNT events (default 144,000) in KAFKA_PARTITIONS files
#    (default 8).
# 2. weir-kafka-mock (built beside the weir binary) serves a topic of KAFKA_PARTITIONS
#    partitions; kcat produces file i into partition i. The mock keeps only about 5 MB (~20,000
#    of these events) a partition and deletes older messages, so keep KAFKA_COUNT under
#    20,000 x KAFKA_PARTITIONS (e.g. KAFKA_COUNT=1000000 KAFKA_PARTITIONS=64): every message
#    is then still there when weir reads it. The whole topic waits when weir starts: the stream
#    is behind, which is what stream.catch_up_interval is for.
# 3. `weir run` of the kafka dataset (partitioned by event type and day, commit_interval
#    KAFKA_COMMIT_INTERVAL (1s), catch_up_interval KAFKA_CATCH_UP_INTERVAL (the default when
#    unset), write.roll_bytes KAFKA_ROLL_BYTES (the default, 128MiB, when unset),
#    stream.pipeline KAFKA_PIPELINE (the default, true, when unset), compute.workers
#    KAFKA_WORKERS (2: the threads that parse partitions and write files), read.options
#    KAFKA_OPTIONS (a YAML flow map of librdkafka settings, e.g. '{"queued.min.messages":
#    "100000"}' for librdkafka's own default), --until-idle 5s) under
#    /usr/bin/time. KAFKA_OUT puts the whole run in another folder (e.g. under /dev/shm, to
#    take the disk out). The stream's time runs from the group's assignment (the mock delays a new group by 3 s) to the commit of the table's last snapshot,
#    when every event is visible. /metrics is scraped meanwhile for the time spent committing.
# 4. The batch run of the same files (compute.workers 1, then 2), and the counts checked.
# Prints events/s of each and the stream/batch ratio (the issue's bar: streaming within 30% of
# batch), the stream's commits, files, commit time and peak RSS, and writes
# bench/out/kafka/result.json.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${KAFKA_OUT:-$repo/bench/out/kafka}  # e.g. a tmpfs folder, to take the disk out
count=${KAFKA_COUNT:-144000}
partitions=${KAFKA_PARTITIONS:-8}
commit_interval=${KAFKA_COMMIT_INTERVAL:-1s}
catch_up=${KAFKA_CATCH_UP_INTERVAL:+  catch_up_interval: $KAFKA_CATCH_UP_INTERVAL}
die() { echo "bench/kafka: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: bench/kafka/run.sh WEIR_BINARY"
weir=$(realpath -m "$1")
mock="$(dirname "$weir")/weir-kafka-mock"
[ -x "$mock" ] || die "no $mock (build the weir-kafka-mock target)"
command -v kcat >/dev/null || die "kcat not found (Debian package kcat; scripts/install-deps.sh)"
rm -rf "$out" && mkdir -p "$out"
cd "$out"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

echo "== generating $count events in $partitions files"
"$weir" gen events --count "$count" --files "$partitions" --seed 99 --out data | tail -n 1

coproc MOCK { "$mock" --topic "events:$partitions" 2>"$out/mock.log"; }
read -r line <&"${MOCK[0]}"
bootstrap=${line#bootstrap=}
[ -n "$bootstrap" ] || die "the mock cluster did not start"
produced=0
i=0
for f in data/*.jsonl; do
  kcat -P -b "$bootstrap" -t events -p "$i" <"$f" || die "kcat failed"
  produced=$(( produced + $(grep -c . "$f") ))
  i=$(( i + 1 ))
done
echo "== produced $produced messages into $partitions partitions at $bootstrap (load $(cut -d' ' -f1 /proc/loadavg))"

columns='  partition_by: [event_type, dt]
  columns:
    id:         {path: /data/id, type: string, required: true}
    event_type: {path: /data/type, type: string, required: true}
    created_at: {path: /meta/created_at, type: timestamp_ms, required: true}
    user_id:    {path: /data/attributes/user_id, type: string}
    latitude:   {path: /data/attributes/latitude, type: double}
    longitude:  {path: /data/attributes/longitude, type: double}
    attributes: {path: /data/attributes, type: json}
    dt:         {date_of: created_at}'
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >stream.yaml <<YAML
name: kafka-bench
read:
  connector: kafka
  brokers: $bootstrap
  topics: [events]
  group: weir-bench
  parser: jsonl
${KAFKA_OPTIONS:+  options: $KAFKA_OPTIONS}
write:
  connector: lake
  location: lake-stream
  table: events_stream
${KAFKA_ROLL_BYTES:+  roll_bytes: $KAFKA_ROLL_BYTES}
$columns
stream:
  commit_interval: $commit_interval
$catch_up
${KAFKA_PIPELINE:+  pipeline: $KAFKA_PIPELINE}
  metrics_listen: 127.0.0.1:$metrics_port
compute: {workers: ${KAFKA_WORKERS:-2}}
YAML
for w in 1 2; do
cat >batch$w.yaml <<YAML
name: batch-bench-$w
read: {connector: files, location: data, manifest: data/manifest.txt, parser: jsonl}
write:
  connector: lake
  location: lake-batch$w
  table: events_batch$w
$columns
compute: {workers: $w, checkpoint_seconds: 60}
YAML
done

echo "== weir run stream.yaml --until-idle 5s (commit_interval $commit_interval${KAFKA_CATCH_UP_INTERVAL:+, catch_up_interval $KAFKA_CATCH_UP_INTERVAL})"
stream_load=$(cut -d' ' -f1 /proc/loadavg)
/usr/bin/time -v -o stream.time "$weir" run stream.yaml --until-idle 5s --no-progress --json >stream.json 2>stream.log &
weir_pid=$!
# The last /metrics answer before the exit: commits and the time they took.
while kill -0 "$weir_pid" 2>/dev/null; do
  curl -sf "http://127.0.0.1:$metrics_port/metrics" -o metrics.tmp 2>/dev/null && mv metrics.tmp metrics.txt
  sleep 0.2
done
wait "$weir_pid" || die "the stream run failed: $(tail -5 stream.log)"
assigned=$(grep -m1 'assigned .* partition' stream.log | sed -E 's/^\[([^]]+)\].*/\1/')
assigned_ms=$(( $(date -d "$assigned" +%s%N) / 1000000 ))
"$weir" lake snapshots stream.yaml --json >snapshots.json || die "weir lake snapshots failed"
last_commit_ms=$(node -e 'const s=JSON.parse(require("fs").readFileSync("snapshots.json")).snapshots; console.log(s.length ? s[s.length-1].timestamp_ms : 0)')
stream_ms=$(( last_commit_ms - assigned_ms ))
echo "== batch runs of the same files"
declare -A batch_ms
for w in 1 2; do
  b0=$(now_ms)
  "$weir" run batch$w.yaml --no-progress --json >batch$w.json 2>batch$w.log || die "batch run failed"
  batch_ms[$w]=$(( $(now_ms) - b0 ))
done
exec {MOCK[1]}>&-  # EOF on the mock's stdin stops it
wait "$MOCK_PID" 2>/dev/null

node - "$produced" "$stream_ms" "${batch_ms[1]}" "${batch_ms[2]}" "$stream_load" <<'JS'
const fs = require('fs');
const [produced, streamMs, b1, b2, streamLoad] = process.argv.slice(2).map(Number);
const s = JSON.parse(fs.readFileSync('stream.json'));
const one = JSON.parse(fs.readFileSync('batch1.json'));
const two = JSON.parse(fs.readFileSync('batch2.json'));
const rate = (n, ms) => Math.round(n / (ms / 1000));
const snaps = JSON.parse(fs.readFileSync('snapshots.json')).snapshots;
const metrics = fs.existsSync('metrics.txt') ? fs.readFileSync('metrics.txt', 'utf8') : '';
const metric = (name) => { const m = metrics.match(new RegExp('^' + name + '(?:\\{[^}]*\\})? ([0-9.e+-]+)$', 'm')); return m ? Number(m[1]) : null; };
const rss = fs.readFileSync('stream.time', 'utf8').match(/Maximum resident set size \(kbytes\): (\d+)/);
const r = {
  messages: produced,
  stream: {read: s.run.read, written: s.run.written, errored: s.run.errored, ms: streamMs, events_per_s: rate(s.run.read, streamMs),
           commits: snaps.length, files: snaps.reduce((a, x) => a + x.added_files, 0),
           commit_seconds: metric('weir_commit_duration_seconds_sum'), peak_rss_mb: rss ? Math.round(Number(rss[1]) / 1024) : null,
           load: streamLoad},
  batch_1_worker: {read: one.run.read, written: one.run.written, ms: b1, events_per_s: rate(one.run.read, b1)},
  batch_2_workers: {read: two.run.read, written: two.run.written, ms: b2, events_per_s: rate(two.run.read, b2)},
  load: Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
};
r.stream_vs_batch_1 = +(r.stream.events_per_s / r.batch_1_worker.events_per_s).toFixed(2);
r.stream_vs_batch_2 = +(r.stream.events_per_s / r.batch_2_workers.events_per_s).toFixed(2);
const ok = s.run.written === one.run.written && s.run.errored === one.run.errored;
console.log(`stream (1 consumer)          ${r.stream.events_per_s.toLocaleString()} ev/s  (${(streamMs / 1000).toFixed(2)} s from assignment to the last snapshot; load ${streamLoad})`);
console.log(`  ${r.stream.commits} commits, ${r.stream.files} files, ${r.stream.commit_seconds === null ? '?' : r.stream.commit_seconds.toFixed(2)} s committing, peak RSS ${r.stream.peak_rss_mb} MiB`);
console.log(`batch, 1 worker             ${r.batch_1_worker.events_per_s.toLocaleString()} ev/s  (${(b1 / 1000).toFixed(2)} s)`);
console.log(`batch, 2 workers            ${r.batch_2_workers.events_per_s.toLocaleString()} ev/s  (${(b2 / 1000).toFixed(2)} s)`);
console.log(`stream/batch: ${r.stream_vs_batch_1}x of 1 worker, ${r.stream_vs_batch_2}x of 2 workers`);
console.log(`rows: stream ${s.run.written} written + ${s.run.errored} errored, batch ${one.run.written} + ${one.run.errored}: ${ok ? 'OK' : 'MISMATCH'}`);
fs.writeFileSync('result.json', JSON.stringify(r, null, 2));
process.exit(ok ? 0 : 1);
JS
