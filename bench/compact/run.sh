#!/usr/bin/env bash
# Compaction benchmark: `weir lake compact` vs DuckDB rewriting the same partitions.
#
#   bench/compact/run.sh WEIR_BINARY
#
# 1. `weir gen events` writes COMPACT_COUNT events (default 1,000,000, ~250 MB) in 8 files
#    (seed COMPACT_SEED) into bench/out/compact/data.
# 2. bench/compact/dataset.yaml is (re)written: the click-stream columns, partition_by
#    [dt], write.sort_by [user_id], 2 workers, and write.roll_records COMPACT_ROLL
#    (default 430) so the run commits often: every commit writes one small file per partition
#    it touched, which leaves ~10,000 small data files (the count is printed).
# 3. `weir run --restart` loads it (not measured).
# 4. DuckDB peer (duckdb_peer.mjs, 2 threads): per partition folder,
#    COPY (SELECT * FROM read_parquet([its files]) ORDER BY user_id) TO ... (zstd), under
#    /usr/bin/time -v. It runs first, on the same files weir compacts next, and writes outside
#    the lake.
# 5. weir: `weir lake compact --json` (target write.target_file_mb, 128) under /usr/bin/time -v:
#    reads, sorts by user_id, writes, and commits ONE Iceberg replace snapshot.
# 6. Checks that `weir query` counts the same rows before and after, prints MB/s of both
#    (input bytes / wall seconds), the ratio, files before/after, peak RSS, and writes
#    bench/out/compact/result.json.
# Exit status: 0 when both sides ran, 1 when weir's side failed, 2 on a setup error.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/bench/out/compact"
count=${COMPACT_COUNT:-1000000}
roll=${COMPACT_ROLL:-430}
seed=${COMPACT_SEED:-20240612}
threads=${COMPACT_THREADS:-2}

die() { echo "bench/compact: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: bench/compact/run.sh WEIR_BINARY"
weir=$(realpath -m "$1")
[ -x "$weir" ] || die "cannot run '$weir' (build weir first)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package 'time')"
command -v node >/dev/null || die "node not found (run scripts/install-deps.sh)"

mkdir -p "$out"
rm -rf "$out/data" "$out/lake" "$out/errors" "$out/.weir" "$out/duck_out"
rm -f "$out"/*.time "$out"/*.log "$out"/*.json
loadavg() { cut -d' ' -f1 /proc/loadavg; }
peak_kb() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }

echo "== generating $count events (seed $seed)"
"$weir" gen events --count "$count" --files 8 --seed "$seed" --out "$out/data" >"$out/gen.log" \
  || die "generation failed"

cat >"$here/dataset.yaml" <<YAML
# Written by bench/compact/run.sh: click-stream events committed in small pieces.
name: compact-bench
read:
  connector: files
  location: ../out/compact/data
  manifest: ../out/compact/data/manifest.txt
  parser: jsonl
write:
  connector: lake
  location: ../out/compact/lake
  table: events
  format: parquet
  partition_by: [dt]
  sort_by: [user_id]
  roll_records: $roll
  columns:
    id:         {path: /data/id, type: string, required: true}
    event_type: {path: /data/type, type: string, required: true}
    created_at: {path: /meta/created_at, type: timestamp_ms, required: true}
    user_id:    {path: /data/attributes/user_id, type: string}
    latitude:   {path: /data/attributes/latitude, type: double}
    longitude:  {path: /data/attributes/longitude, type: double}
    attributes: {path: /data/attributes, type: json}
    dt:         {date_of: created_at}
errors:
  location: ../out/compact/errors
compute:
  workers: 2
store: ../out/compact/.weir
YAML

echo "== weir run (loading the small files; not measured)"
"$weir" run --restart --no-progress --json "$here/dataset.yaml" >"$out/run.json" 2>"$out/run.log" \
  || die "weir run failed: $(tail -3 "$out/run.log")"
count_rows() {
  "$weir" query "$here/dataset.yaml" "SELECT count(*) FROM events" --format csv | tail -1
}
rows_before=$(count_rows)
files_before=$(find "$out/lake/events/data" -name '*.parquet' | wc -l)
bytes_before=$(find "$out/lake/events/data" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "   $rows_before rows in $files_before data files ($((bytes_before / 1048576)) MB)"
find "$out/lake/events/data" -name '*.parquet' -exec cat {} + >/dev/null  # page cache for both sides

echo "== DuckDB: COPY ... ORDER BY user_id per partition (load average $(loadavg))"
duck_load=$(loadavg)
/usr/bin/time -v -o "$out/duckdb.time" node "$here/duckdb_peer.mjs" --lake "$out/lake/events" \
  --out "$out/duck_out" --threads "$threads" --json "$out/duckdb.json" >"$out/duckdb.log" 2>&1 \
  || die "DuckDB peer failed: $(tail -3 "$out/duckdb.log")"
cat "$out/duckdb.json"

echo "== weir lake compact (load average $(loadavg))"
weir_load=$(loadavg)
weir_ok=1
/usr/bin/time -v -o "$out/weir.time" "$weir" lake compact "$here/dataset.yaml" --json \
  >"$out/compact.json" 2>"$out/compact.log" || weir_ok=0
rows_after=$(count_rows)
[ "$rows_after" = "$rows_before" ] || { echo "bench/compact: rows before $rows_before, after $rows_after" >&2; weir_ok=0; }

node - "$out" "$weir_ok" "$weir_load" "$duck_load" "$files_before" "$rows_before" \
  "$(peak_kb "$out/weir.time")" "$(peak_kb "$out/duckdb.time")" <<'JS'
const fs = require('fs');
const [out, ok, weirLoad, duckLoad, filesBefore, rows, weirKb, duckKb] = process.argv.slice(2);
const duck = JSON.parse(fs.readFileSync(`${out}/duckdb.json`, 'utf8'));
let weir = null;
if (ok === '1') {
  const c = JSON.parse(fs.readFileSync(`${out}/compact.json`, 'utf8'));
  const sum = (k) => c.partitions.reduce((s, p) => s + p[k], 0);
  weir = { seconds: c.seconds, partitions: c.partitions.length, files_in: sum('rewritten_files'),
           files_out: sum('new_files'), bytes_in: sum('bytes_read'), bytes_out: sum('bytes_written'),
           rows: sum('rows') };
  weir.mb_per_s = weir.bytes_in / 1048576 / weir.seconds;
}
const warn = (l) => (Number(l) > 1.5 ? ` (load ${l}: figures not comparable)` : '');
console.log(`   files before: ${filesBefore}, rows: ${rows}`);
if (weir) {
  console.log(`weir   ${weir.mb_per_s.toFixed(1)} MB/s  ${weir.files_in} -> ${weir.files_out} files in ` +
              `${weir.partitions} partitions, ${weir.seconds.toFixed(2)} s, peak RSS ${Math.round(weirKb / 1024)} MB` +
              warn(weirLoad));
}
console.log(`duckdb ${duck.mb_per_s.toFixed(1)} MB/s  ${duck.files_in} -> ${duck.partitions} files, ` +
            `${duck.seconds.toFixed(2)} s, peak RSS ${Math.round(duckKb / 1024)} MB` + warn(duckLoad));
if (weir) console.log(`ratio weir/duckdb: ${(weir.mb_per_s / duck.mb_per_s).toFixed(2)}`);
fs.writeFileSync(`${out}/result.json`, JSON.stringify({
  files_before: Number(filesBefore), rows: Number(rows), weir, duckdb: duck,
  ratio: weir ? weir.mb_per_s / duck.mb_per_s : null,
  weir_peak_rss_kb: Number(weirKb) || null, duckdb_peak_rss_kb: Number(duckKb) || null,
  load: { weir: Number(weirLoad), duckdb: Number(duckLoad) } }, null, 2) + '\n');
JS
[ "$weir_ok" = 1 ] || { echo "bench/compact: weir's side failed: $(tail -3 "$out/compact.log")" >&2; exit 1; }
