#!/usr/bin/env bash
# Kafka stream benchmark: weir consuming a topic into the lake vs weir's own batch run of the
# same events as files.
#
#   bench/kafka/run.sh WEIR_BINARY
#
# 1. `weir gen events` writes KAFKA_COUNT events (default 144,000) in 8 files.
# 2. weir-kafka-mock (built beside the weir binary) serves a topic of 8 partitions; kcat
#    produces file i into partition i. The mock keeps only about 5 MB a partition (older
#    messages are deleted), so the default stays under that: every message is still there when
#    weir reads it.
# 3. `weir run` of the kafka dataset (partitioned by event type and day, commit_interval 1s,
#    --until-idle 2s): the consuming time runs from the group's assignment (the mock delays a new
#    group by 3 s) to the exit, minus the 2 s of idleness that end it.
# 4. The batch run of the same files (compute.workers 1, then 2), and the counts checked.
# Prints events/s of each and the stream/batch ratio (the issue's bar: streaming within 30% of
# batch), and writes bench/out/kafka/result.json.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/bench/out/kafka"
count=${KAFKA_COUNT:-144000}
die() { echo "bench/kafka: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: bench/kafka/run.sh WEIR_BINARY"
weir=$(realpath -m "$1")
mock="$(dirname "$weir")/weir-kafka-mock"
[ -x "$mock" ] || die "no $mock (build the weir-kafka-mock target)"
command -v kcat >/dev/null || die "kcat not found (Debian package kcat; scripts/install-deps.sh)"
rm -rf "$out" && mkdir -p "$out"
cd "$out"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

echo "== generating $count events in 8 files"
"$weir" gen events --count "$count" --files 8 --seed 99 --out data | tail -n 1

coproc MOCK { "$mock" --topic events:8 2>"$out/mock.log"; }
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
echo "== produced $produced messages into 8 partitions at $bootstrap (load $(cut -d' ' -f1 /proc/loadavg))"

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
cat >stream.yaml <<YAML
name: kafka-bench
read:
  connector: kafka
  brokers: $bootstrap
  topics: [events]
  group: weir-bench
  parser: jsonl
write:
  connector: lake
  location: lake-stream
  table: events_stream
$columns
stream:
  commit_interval: 1s
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

echo "== weir run stream.yaml --until-idle 2s"
"$weir" run stream.yaml --until-idle 2s --no-progress --json >stream.json 2>stream.log || die "the stream run failed: $(tail -5 stream.log)"
t1=$(now_ms)
assigned=$(grep -m1 'assigned .* partition' stream.log | sed -E 's/^\[([^]]+)\].*/\1/')
assigned_ms=$(( $(date -d "$assigned" +%s%N) / 1000000 ))
stream_ms=$(( t1 - assigned_ms - 2000 ))
echo "== batch runs of the same files"
declare -A batch_ms
for w in 1 2; do
  b0=$(now_ms)
  "$weir" run batch$w.yaml --no-progress --json >batch$w.json 2>batch$w.log || die "batch run failed"
  batch_ms[$w]=$(( $(now_ms) - b0 ))
done
exec {MOCK[1]}>&-  # EOF on the mock's stdin stops it
wait "$MOCK_PID" 2>/dev/null

node - "$produced" "$stream_ms" "${batch_ms[1]}" "${batch_ms[2]}" <<'JS'
const fs = require('fs');
const [produced, streamMs, b1, b2] = process.argv.slice(2).map(Number);
const s = JSON.parse(fs.readFileSync('stream.json'));
const one = JSON.parse(fs.readFileSync('batch1.json'));
const two = JSON.parse(fs.readFileSync('batch2.json'));
const rate = (n, ms) => Math.round(n / (ms / 1000));
const r = {
  messages: produced,
  stream: {read: s.run.read, written: s.run.written, errored: s.run.errored, ms: streamMs, events_per_s: rate(s.run.read, streamMs)},
  batch_1_worker: {read: one.run.read, written: one.run.written, ms: b1, events_per_s: rate(one.run.read, b1)},
  batch_2_workers: {read: two.run.read, written: two.run.written, ms: b2, events_per_s: rate(two.run.read, b2)},
  load: Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
};
r.stream_vs_batch_1 = +(r.stream.events_per_s / r.batch_1_worker.events_per_s).toFixed(2);
r.stream_vs_batch_2 = +(r.stream.events_per_s / r.batch_2_workers.events_per_s).toFixed(2);
const ok = s.run.written === one.run.written && s.run.errored === one.run.errored;
console.log(`stream (1 consumer thread)  ${r.stream.events_per_s.toLocaleString()} ev/s  (${(streamMs / 1000).toFixed(2)} s from assignment to exit)`);
console.log(`batch, 1 worker             ${r.batch_1_worker.events_per_s.toLocaleString()} ev/s  (${(b1 / 1000).toFixed(2)} s)`);
console.log(`batch, 2 workers            ${r.batch_2_workers.events_per_s.toLocaleString()} ev/s  (${(b2 / 1000).toFixed(2)} s)`);
console.log(`stream/batch: ${r.stream_vs_batch_1}x of 1 worker, ${r.stream_vs_batch_2}x of 2 workers`);
console.log(`rows: stream ${s.run.written} written + ${s.run.errored} errored, batch ${one.run.written} + ${one.run.errored}: ${ok ? 'OK' : 'MISMATCH'}`);
fs.writeFileSync('result.json', JSON.stringify(r, null, 2));
process.exit(ok ? 0 : 1);
JS
