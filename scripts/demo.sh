#!/usr/bin/env bash
# `make demo`: generate sample marketplace events, run the clickstream dataset on them with the
# embedded defaults (local disk, SQLite), and show what landed in the lake and in the errors.
set -euo pipefail
weir=$(realpath "$1"); dir=$(realpath "$2"); count=${3:-200000}
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
