#!/usr/bin/env bash
# Kafka stream latency benchmark: a steady produce rate while weir consumes, and how long each
# event takes to be in a committed snapshot.
#
#   bench/kafka/latency.sh WEIR_BINARY
#
# 1. `weir gen events` writes a pool of LATENCY_POOL events (200,000; no duplicates or malformed
#    lines) that steady.py cycles through, every id made unique per pass.
# 2. weir-kafka-mock serves a topic of LATENCY_PARTITIONS (16) partitions: at 50,000 events/s
#    each partition gets ~0.8 MB/s, so its ~5 MB (the mock deletes older messages) are several
#    seconds of slack for weir.
# 3. `weir run` of the kafka dataset (the columns and partition_by [event_type, dt] of run.sh,
#    commit_interval LATENCY_COMMIT_INTERVAL (1s), stream.pipeline LATENCY_PIPELINE (the
#    default, true, when unset), metrics on a free port) under /usr/bin/time.
# 4. Once the group has assigned the partitions, steady.py produces LATENCY_RATE (50,000)
#    events/s for LATENCY_SECONDS (60) through kcat and probes /metrics every 0.1 s: the
#    latency of an event is (the first probe whose committed count includes it) - (when it was
#    handed to kcat). LATENCY_LIVE=1 stamps each event's created_at with that time (live
#    traffic, today's partitions) instead of the pool's 7 days. Then SIGTERM (weir must exit 0) and the counts are checked.
# Prints p50/p90/p99/max latency, snapshots and files per minute of load, weir's CPU and peak
# RSS, and writes bench/out/kafka-latency/result.json.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${LATENCY_OUT:-$repo/bench/out/kafka-latency}  # e.g. a tmpfs folder, to take the disk out
pool=${LATENCY_POOL:-200000}
partitions=${LATENCY_PARTITIONS:-16}
rate=${LATENCY_RATE:-50000}
seconds=${LATENCY_SECONDS:-60}
commit_interval=${LATENCY_COMMIT_INTERVAL:-1s}
die() { echo "bench/kafka/latency: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: bench/kafka/latency.sh WEIR_BINARY"
weir=$(realpath -m "$1")
mock="$(dirname "$weir")/weir-kafka-mock"
[ -x "$mock" ] || die "no $mock (build the weir-kafka-mock target)"
command -v kcat >/dev/null || die "kcat not found (Debian package kcat; scripts/install-deps.sh)"
rm -rf "$out" && mkdir -p "$out"
cd "$out"

echo "== generating a pool of $pool events"
"$weir" gen events --count "$pool" --files 1 --seed 7 --duplicates 0 --malformed 0 --blank 0 --out data | tail -n 1
coproc MOCK { "$mock" --topic "events:$partitions" 2>"$out/mock.log"; }
read -r line <&"${MOCK[0]}"
bootstrap=${line#bootstrap=}
[ -n "$bootstrap" ] || die "the mock cluster did not start"
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >stream.yaml <<YAML
name: kafka-latency
read:
  connector: kafka
  brokers: $bootstrap
  topics: [events]
  group: weir-latency
  parser: jsonl
write:
  connector: lake
  location: lake
  table: events
  partition_by: [event_type, dt]
  columns:
    id:         {path: /data/id, type: string, required: true}
    event_type: {path: /data/type, type: string, required: true}
    created_at: {path: /meta/created_at, type: timestamp_ms, required: true}
    user_id:    {path: /data/attributes/user_id, type: string}
    latitude:   {path: /data/attributes/latitude, type: double}
    longitude:  {path: /data/attributes/longitude, type: double}
    attributes: {path: /data/attributes, type: json}
    dt:         {date_of: created_at}
stream:
  commit_interval: $commit_interval
${LATENCY_PIPELINE:+  pipeline: $LATENCY_PIPELINE}
  metrics_listen: 127.0.0.1:$metrics_port
YAML
/usr/bin/time -v -o weir.time "$weir" run stream.yaml --no-progress --json >stream.json 2>stream.log &
weir_pid=$!
for _ in $(seq 300); do grep -q 'assigned .* partition' stream.log && break; sleep 0.1; done
grep -q 'assigned .* partition' stream.log || die "no assignment: $(tail -3 stream.log)"
load=$(cut -d' ' -f1 /proc/loadavg)
echo "== producing $rate events/s for $seconds s into $partitions partitions (load $load)"
python3 "$here/steady.py" data/events-0000.jsonl "$bootstrap" "http://127.0.0.1:$metrics_port/metrics" \
  "$rate" "$seconds" steady.json ${LATENCY_LIVE:+live} || echo "bench/kafka/latency: not everything produced was committed within 120 s" >&2
# SIGTERM to weir itself (GNU time does not pass signals on), then GNU time exits with its status.
weir_child=$(pgrep -P "$weir_pid" -x weir)
[ -n "$weir_child" ] && kill -TERM "$weir_child"
wait "$weir_pid" || die "weir run did not exit 0: $(tail -5 stream.log)"
exec {MOCK[1]}>&-
wait "$MOCK_PID" 2>/dev/null
"$weir" lake snapshots stream.yaml --json >snapshots.json || die "weir lake snapshots failed"

node - "$load" <<'JS'
const fs = require('fs');
const load = Number(process.argv[2]);
const st = JSON.parse(fs.readFileSync('steady.json'));
const s = JSON.parse(fs.readFileSync('stream.json'));
const snaps = JSON.parse(fs.readFileSync('snapshots.json')).snapshots
  .filter((x) => x.timestamp_ms >= st.load_start * 1000 && x.timestamp_ms <= st.load_end * 1000);
const minutes = (st.load_end - st.load_start) / 60;
const t = fs.readFileSync('weir.time', 'utf8');
const num = (re) => { const m = t.match(re); return m ? Number(m[1]) : null; };
const r = {
  ...st, load,
  snapshots_per_minute: Math.round(snaps.length / minutes),
  files_per_minute: Math.round(snaps.reduce((a, x) => a + x.added_files, 0) / minutes),
  weir: {read: s.run.read, written: s.run.written, errored: s.run.errored,
         cpu_s: +(num(/User time \(seconds\): ([\d.]+)/) + num(/System time \(seconds\): ([\d.]+)/)).toFixed(1),
         peak_rss_mb: Math.round(num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024)},
};
delete r.load_start; delete r.load_end;
const ok = s.run.read === st.produced;
console.log(`produced ${st.produced.toLocaleString()} at ${st.achieved_rate.toLocaleString()} ev/s (target ${st.rate.toLocaleString()}) for ${st.seconds} s; load ${load}`);
console.log(`visible after: p50 ${st.visible_p50_s} s, p90 ${st.visible_p90_s} s, p99 ${st.visible_p99_s} s, max ${st.visible_max_s} s`);
console.log(`${r.snapshots_per_minute} snapshots/min, ${r.files_per_minute.toLocaleString()} files/min; weir ${r.weir.cpu_s} CPU-s, peak RSS ${r.weir.peak_rss_mb} MiB`);
console.log(`rows: weir read ${s.run.read}, produced ${st.produced}: ${ok ? 'OK' : 'MISMATCH'}`);
fs.writeFileSync('result.json', JSON.stringify(r, null, 2));
process.exit(ok ? 0 : 1);
JS
