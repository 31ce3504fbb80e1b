#!/usr/bin/env bash
# Rules latency benchmark (issue 11): a steady Kafka produce rate of live marketplace events
# while `weir run` consumes them into the lake and runs the contract's rules, and how long after
# its completing event each derived record becomes visible.
#
#   bench/rules/latency.sh WEIR_BINARY
#
# 1. A pool of RLAT_POOL events (200,000): a meeting proposal every 10 events, 3 of 4 meetings
#    accepted 2,000 events later (40 ms at 50K events/s), listings and page views of 5,000
#    users between. created_at is a number, so bench/kafka/steady.py stamps each event with the
#    time it hands it to kcat (`live`): a derived record's event time is then the produce time
#    of the event that completed it.
# 2. weir-kafka-mock serves a topic of RLAT_PARTITIONS (16) partitions (kcat spreads the events).
# 3. `weir run` of the dataset: the events into a lake table partitioned by event_type (2
#    workers), and the rules (the meeting_accepted and meeting_reminder patterns, the
#    seller_level segment; out_of_orderness RLAT_OOO, 100ms) into the derived table;
#    stream.commit_interval RLAT_COMMIT_INTERVAL (1s), metrics on a free port. RLAT_OUTPUT=kafka:
#    the derived records go to a Kafka topic of the mock cluster instead (rules.output
#    connector kafka, transactions), and "visible" is "committed in Kafka".
# 4. steady.py produces RLAT_RATE (50,000) events/s for RLAT_SECONDS (60) s; then GET /metrics:
#    weir_rules_latency_seconds{rule="meeting_accepted"} is, per derived record, the time its
#    commit finished minus its event time. Then SIGTERM (weir must exit 0).
# Prints the derived records' latency percentiles (bucket bounds of the histogram: "p99 <= 1.5 s"
# means at least 99% were visible within 1.5 s) and the share within 1.5 s, the lake records'
# visibility (steady.py), weir's CPU and peak RSS; writes bench/out/rules-latency/result.json.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${RLAT_OUT:-$repo/bench/out/rules-latency}
pool=${RLAT_POOL:-200000}
partitions=${RLAT_PARTITIONS:-16}
rate=${RLAT_RATE:-50000}
seconds=${RLAT_SECONDS:-60}
ooo=${RLAT_OOO:-100ms}
commit_interval=${RLAT_COMMIT_INTERVAL:-1s}
output=${RLAT_OUTPUT:-lake}
die() { echo "bench/rules/latency: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: bench/rules/latency.sh WEIR_BINARY"
weir=$(realpath -m "$1")
mock="$(dirname "$weir")/weir-kafka-mock"
[ -x "$mock" ] || die "no $mock (build the weir-kafka-mock target)"
command -v kcat >/dev/null || die "kcat not found (Debian package kcat; scripts/install-deps.sh)"
rm -rf "$out" && mkdir -p "$out"
cd "$out"

echo "== a pool of $pool events"
python3 - "$pool" >pool.jsonl <<'PY'
import sys
n = int(sys.argv[1])
for i in range(n):
    if i % 10 == 0:
        typ, attrs = "meeting_proposal", '"user_id":"u%d","meeting_id":"m%d"' % (i % 5000, i // 10)
    elif i % 10 == 5 and i >= 2000 and ((i - 2000) // 10) % 4 != 0:
        typ, attrs = "meeting_accepted", '"user_id":"u%d","meeting_id":"m%d"' % ((i + 7) % 5000, (i - 2000) // 10)
    elif i % 3 == 0:
        typ, attrs = "listing_created", '"user_id":"u%d"' % (i % 5000)
    else:
        typ, attrs = "page_view", '"user_id":"u%d"' % (i % 5000)
    print('{"data":{"id":"e%d","type":"%s","attributes":{%s}},"meta":{"created_at":1764000000000}}'
          % (i, typ, attrs))
PY
coproc MOCK { "$mock" --topic "events:$partitions" --topic derived:4 --topic derived.weir-progress:1 2>"$out/mock.log"; }
read -r line <&"${MOCK[0]}"
bootstrap=${line#bootstrap=}
[ -n "$bootstrap" ] || die "the mock cluster did not start"
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >rules.yaml <<YAML
name: rules-latency
read:
  connector: kafka
  brokers: $bootstrap
  topics: [events]
  group: weir-rules-latency
  parser: jsonl
write:
  connector: lake
  location: lake
  table: events
  partition_by: [event_type]
  columns:
    id:         {path: /data/id, type: string, required: true}
    event_type: {path: /data/type, type: string, required: true}
    created_at: {path: /meta/created_at, type: timestamp_ms, required: true}
    user_id:    {path: /data/attributes/user_id, type: string}
    meeting_id: {path: /data/attributes/meeting_id, type: string}
compute: {workers: 2}
stream:
  commit_interval: $commit_interval
  metrics_listen: 127.0.0.1:$metrics_port
rules:
  event_time: created_at
  out_of_orderness: $ooo
  idle_timeout: 10s
  output: $(if [ "$output" = kafka ]; then echo "{connector: kafka, brokers: \"$bootstrap\", topic: derived}"; else echo "{location: lake, table: derived}"; fi)
$(cat "$here/contract-rules.yaml")
YAML
/usr/bin/time -v -o weir.time "$weir" run rules.yaml --no-progress --json >run.json 2>run.log &
weir_pid=$!
for _ in $(seq 300); do grep -q 'assigned .* partition' run.log && break; sleep 0.1; done
grep -q 'assigned .* partition' run.log || die "no assignment: $(tail -3 run.log)"
load=$(cut -d' ' -f1 /proc/loadavg)
echo "== producing $rate events/s for $seconds s into $partitions partitions (load $load)"
python3 "$repo/bench/kafka/steady.py" pool.jsonl "$bootstrap" "http://127.0.0.1:$metrics_port/metrics" \
  "$rate" "$seconds" steady.json live || echo "bench/rules/latency: not everything produced was committed within 120 s" >&2
sleep 3  # the rules stage's last commits
python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
  "http://127.0.0.1:$metrics_port/metrics" >metrics.txt || die "GET /metrics failed"
weir_child=$(pgrep -P "$weir_pid" -x weir)
[ -n "$weir_child" ] && kill -TERM "$weir_child"
wait "$weir_pid" || die "weir run did not exit 0: $(tail -5 run.log)"
exec {MOCK[1]}>&-
wait "$MOCK_PID" 2>/dev/null

node - "$load" <<'JS'
const fs = require('fs');
const load = Number(process.argv[2]);
const st = JSON.parse(fs.readFileSync('steady.json'));
const metrics = fs.readFileSync('metrics.txt', 'utf8');
const t = fs.readFileSync('weir.time', 'utf8');
const num = (re) => { const m = t.match(re); return m ? Number(m[1]) : null; };
// The histogram of one rule: [[bound, cumulative], ...] and the count.
const hist = (rule) => {
  const re = new RegExp(`^weir_rules_latency_seconds_bucket\\{[^}]*rule="${rule}",le="([^"]+)"\\} (\\d+)$`, 'gm');
  const b = [...metrics.matchAll(re)].map((m) => [m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  return {b, n: b.length ? b[b.length - 1][1] : 0};
};
const pct = (h, p) => { const x = h.b.find(([, c]) => c >= p * h.n); return x ? x[0] : null; };
const within = (h, s) => { const x = h.b.find(([bound]) => bound === s); return x && h.n ? x[1] / h.n : null; };
const acc = hist('meeting_accepted');
const counter = (name, extra = '') => {
  const m = metrics.match(new RegExp(`^${name}\\{[^}]*${extra}[^}]*\\} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : null;
};
const r = {
  produced: st.produced, achieved_rate: st.achieved_rate, seconds: st.seconds, load,
  rules_used: counter('weir_rules_records_total', 'outcome="used"'),
  rules_late: counter('weir_rules_records_total', 'outcome="late"'),
  derived: counter('weir_rules_derived_total'),
  accepted_records: acc.n,
  accepted_p50_le_s: pct(acc, 0.5), accepted_p90_le_s: pct(acc, 0.9), accepted_p99_le_s: pct(acc, 0.99),
  accepted_within_1_5_s: within(acc, 1.5),
  lake_visible_p50_s: st.visible_p50_s, lake_visible_p99_s: st.visible_p99_s,
  weir_cpu_s: +(num(/User time \(seconds\): ([\d.]+)/) + num(/System time \(seconds\): ([\d.]+)/)).toFixed(1),
  weir_peak_rss_mb: Math.round(num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024),
};
console.log(`produced ${st.produced.toLocaleString()} at ${st.achieved_rate.toLocaleString()} ev/s (target ${st.rate.toLocaleString()}) for ${st.seconds} s; load ${load}`);
console.log(`rules: ${r.rules_used} used, ${r.rules_late} late, ${r.derived} derived`);
console.log(`output: ${process.env.RLAT_OUTPUT || 'lake'}`);
console.log(`meeting_accepted (${acc.n} records) visible after its acceptance: p50 <= ${r.accepted_p50_le_s} s, p90 <= ${r.accepted_p90_le_s} s, p99 <= ${r.accepted_p99_le_s} s; within 1.5 s: ${(100 * r.accepted_within_1_5_s).toFixed(2)}% (target p99 < 1.5 s)`);
console.log(`lake records visible after: p50 ${st.visible_p50_s} s, p99 ${st.visible_p99_s} s; weir ${r.weir_cpu_s} CPU-s, peak RSS ${r.weir_peak_rss_mb} MiB`);
fs.writeFileSync('result.json', JSON.stringify(r, null, 2));
process.exit(acc.n > 0 ? 0 : 1);
JS
