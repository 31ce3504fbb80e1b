#!/usr/bin/env bash
# Ingest benchmark: weir vs DuckDB on the same generated click-stream files.
#
#   bench/ingest/run.sh WEIR_BINARY
#
# 1. `weir gen events` writes INGEST_COUNT events (default 1,000,000, ~250 MB) in INGEST_FILES
#    files (default 8) with a fixed seed into bench/out/ingest/data, with gen-summary.json as the
#    answer key. WEIR_GEN=/path/to/binary overrides the binary used for this step only.
# 2. bench/ingest/dataset.yaml is (re)written: the click-stream columns, partition_by
#    [event_type, dt], 2 workers, lake in bench/out/ingest/lake.
# 3. `weir run --restart` under /usr/bin/time -v. If it fails (or is not implemented yet) the
#    benchmark says so and goes on with the DuckDB side.
# 4. The DuckDB peer (duckdb_peer.mjs, 2 threads) does read_json(ignore_errors) + partitioned
#    COPY to Parquet, also under /usr/bin/time -v.
# 5. DuckDB counts the rows of weir's lake; report.mjs prints the comparison and writes
#    bench/out/ingest/result.json.
# Exit status: 0 when both sides ran, 1 when weir's side failed, 2 on a setup error.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/bench/out/ingest"
count=${INGEST_COUNT:-1000000}
files=${INGEST_FILES:-8}
seed=${INGEST_SEED:-20240608}
threads=${INGEST_THREADS:-2}

die() { echo "bench/ingest: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: bench/ingest/run.sh WEIR_BINARY"
weir=$(realpath -m "$1")
gen=${WEIR_GEN:-$weir}
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package 'time')"
command -v node >/dev/null || die "node not found (run scripts/install-deps.sh)"
[ -x "$gen" ] || die "cannot run the generator '$gen' (build weir, or set WEIR_GEN)"

mkdir -p "$out"
rm -rf "$out/data" "$out/lake" "$out/errors" "$out/.weir" "$out/duck_lake"
rm -f "$out"/*.time "$out"/*.log "$out"/*.json

loadavg() { cut -d' ' -f1 /proc/loadavg; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

echo "== generating $count events in $files files (seed $seed)"
"$gen" gen events --count "$count" --files "$files" --seed "$seed" --out "$out/data" \
  | tee "$out/gen.log" || die "generation failed"
[ -f "$out/data/gen-summary.json" ] || die "generator wrote no gen-summary.json"

# Relative paths resolve against this file's folder; the content is the same on every run.
# A batch load commits by size: the two workers' buffers together (2 x roll_bytes) hold the whole
# input, so the table gets one commit, one file per partition (INGEST_ROLL_BYTES overrides).
roll_bytes=${INGEST_ROLL_BYTES:-256MiB}
# INGEST_DEDUP=1 adds write.dedup on id (the cost of exact deduplication; DuckDB does none).
dedup_line=""
[ "${INGEST_DEDUP:-0}" = 1 ] && dedup_line="  dedup: {key: [id], within: 30d}
"
cat >"$here/dataset.yaml" <<YAML
# Written by bench/ingest/run.sh: the click-stream dataset over the generated benchmark files.
name: ingest-bench
read:
  connector: files
  location: ../out/ingest/data
  manifest: ../out/ingest/data/manifest.txt
  parser: jsonl
write:
  connector: lake
  location: ../out/ingest/lake
  table: events
  format: parquet
  partition_by: [event_type, dt]
  roll_bytes: ${roll_bytes}
${dedup_line}  columns:
    id:         {path: /data/id, type: string, required: true}
    event_type: {path: /data/type, type: string, required: true}
    created_at: {path: /meta/created_at, type: timestamp_ms, required: true}
    user_id:    {path: /data/attributes/user_id, type: string}
    latitude:   {path: /data/attributes/latitude, type: double}
    longitude:  {path: /data/attributes/longitude, type: double}
    attributes: {path: /data/attributes, type: json}
    dt:         {date_of: created_at}
errors:
  location: ../out/ingest/errors
compute:
  workers: 2
  checkpoint_seconds: 60   # a batch load: commit by size (write.roll_bytes), not every 5 s
store: ../out/ingest/.weir
YAML

# Let the page cache settle; both engines read the files from memory.
cat "$out"/data/*.jsonl >/dev/null

echo "== weir run --restart (load average $(loadavg))"
weir_ok=0
weir_load=$(loadavg)
if [ ! -x "$weir" ]; then
  echo "bench/ingest: weir binary '$weir' not found; skipping the weir side" | tee "$out/weir.log"
else
  t0=$(now_ms)
  if /usr/bin/time -v -o "$out/weir.time" "$weir" run --restart --no-progress "$here/dataset.yaml" \
       >"$out/weir.log" 2>&1; then
    weir_ok=1
    echo $(( $(now_ms) - t0 )) >"$out/weir.ms"
  else
    echo "bench/ingest: 'weir run' failed (exit $?); last lines of $out/weir.log:"
    tail -n 5 "$out/weir.log" | sed 's/^/    /'
  fi
fi
if [ -d "$out/lake/events" ]; then
  node "$here/duckdb_peer.mjs" count --lake "$out/lake/events" --threads "$threads" \
    --json "$out/weir_lake.json" >/dev/null || echo "bench/ingest: could not read weir's lake"
fi

echo "== DuckDB peer (load average $(loadavg))"
duck_load=$(loadavg)
t0=$(now_ms)
/usr/bin/time -v -o "$out/duckdb.time" node "$here/duckdb_peer.mjs" ingest \
  --data "$out/data" --out "$out/duck_lake" --threads "$threads" --json "$out/duckdb.json" \
  >"$out/duckdb.log" 2>&1 || { cat "$out/duckdb.log"; die "the DuckDB peer failed"; }
echo $(( $(now_ms) - t0 )) >"$out/duckdb.ms"

node "$here/report.mjs" --out "$out" --weir-ok "$weir_ok" --weir-load "$weir_load" \
  --duck-load "$duck_load" || die "report failed"
[ "$weir_ok" = 1 ] || exit 1
exit 0
