#!/usr/bin/env bash
# `make demo`: generate sample marketplace events, run the clickstream dataset on them with the
# embedded defaults (local disk, SQLite), and show what landed in the lake and in the errors.
set -euo pipefail
weir=$(realpath "$1"); dir=$(realpath "$2"); count=${3:-200000}
scripts=$(cd "$(dirname "$0")" && pwd)
cd "$dir"
echo "== weir gen events: $count events in 4 files (with duplicates, late events, malformed lines)"
rm -rf data lake errors .weir
"$weir" gen events --count "$count" --files 4 --out data --seed 7
echo; echo "== weir validate dataset.yaml"
"$weir" validate dataset.yaml
echo; echo "== weir run dataset.yaml"
"$weir" run dataset.yaml
echo; echo "== weir run dataset.yaml (again: every task is complete, nothing to do)"
"$weir" run dataset.yaml
echo; echo "== weir query: events per day"
"$weir" query dataset.yaml "SELECT dt, count(*) AS events, count(DISTINCT user_id) AS users FROM events GROUP BY dt ORDER BY dt"
echo; echo "== weir query: top event types"
"$weir" query dataset.yaml "SELECT event_type, count(*) AS events FROM events GROUP BY 1 ORDER BY 2 DESC LIMIT 8"
echo; echo "== weir errors (first 3 of the malformed lines, with exact byte offsets)"
"$weir" errors dataset.yaml --limit 3
echo; echo "== the lake is an Apache Iceberg table (Parquet data files in Hive-style partition folders):"
# Collected first: `find | head` would end find with SIGPIPE, which pipefail turns into a failure.
mapfile -t parts < <(find lake/events -name '*.parquet' | sort)
printf '%s\n' "${parts[@]:0:3}"
echo "... ${#parts[@]} files in $(find lake/events/data -mindepth 2 -type d | wc -l) partitions; snapshots: $(ls lake/events/metadata/snap-*.avro | wc -l), current metadata: v$(cat lake/events/metadata/version-hint.text).metadata.json"

echo; echo "== weir run rules.yaml: patterns and segments over the same events (docs/rules.md)"
"$weir" run rules.yaml --no-progress | tail -n 2
echo; echo "== weir query: derived records (reminders for unanswered meeting proposals, seller levels)"
"$weir" query rules.yaml "SELECT rule, count(*) AS records, count(DISTINCT key) AS keys FROM derived GROUP BY 1 ORDER BY 1"
"$weir" query rules.yaml "SELECT rule, key, event_time, data FROM derived WHERE rule = 'seller_level' ORDER BY event_time LIMIT 4"

echo; echo "== the same kind of events as a stream: weir's HTTP collector (stream.yaml)"
echo "   a client posts 5,000 events a second for 6 s; weir commits every second"
rm -rf live-data lake/events_live errors/clickstream-live .weir/streams/clickstream-live live-run.log
"$weir" gen events --count 30000 --files 1 --out live-data --seed 11 >/dev/null
"$weir" run stream.yaml --no-progress >live-run.log 2>&1 &
weir_pid=$!
url=""
for _ in $(seq 200); do
  url=$(sed -n 's/.*collector listening on \(http[^ ]*\).*/\1/p' live-run.log)
  [ -n "$url" ] && break
  kill -0 "$weir_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { cat live-run.log; echo "demo: the collector did not start" >&2; exit 1; }
echo "   collector: $url"
live_file=$(ls live-data/*.jsonl | head -n 1)
python3 "$scripts/post_events.py" "$url" "$live_file" --rate 5000 --seconds 6 >live-post.log &
poster=$!
for s in 1 2 3 4 5 6 7 8; do
  sleep 1
  rows=$("$weir" query stream.yaml "SELECT count(*) AS n FROM events_live" --format csv 2>/dev/null | tail -n 1 || true)
  echo "   after ${s}s: ${rows:-0} rows in the lake"
done
wait "$poster" || true
cat live-post.log | tail -n 1
kill -TERM "$weir_pid"
wait "$weir_pid"
echo; echo "== weir tasks stream.yaml (the collector's task: its offset is the checkpoint)"
"$weir" tasks stream.yaml
echo; echo "== weir query: what arrived, by event type"
"$weir" query stream.yaml "SELECT event_type, count(*) AS events FROM events_live GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
echo; echo "(point stream.yaml at Kafka instead: see the comment at its top and docs/streams.md)"

