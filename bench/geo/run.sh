#!/usr/bin/env bash
# Geo lookup benchmark: weir vs shapely 1.8 vs PostGIS on the same seeded random points, same
# machine, one run. See docs/geo.md ("Benchmark") for what is measured.
#
#   bench/geo/run.sh [BUILD_DIR]
#
# Environment: POINTS (default 10000000, weir), SHAPELY_POINTS (default 1000000 countries /
# 200000 cells), PG_POINTS (default 200000), CELLS (default 20000), SEED (default 42),
# WORK (scratch folder, default /tmp/weir_geo_bench; the Voronoi layer is cached there).
# shapely and PostGIS run on the first SHAPELY_POINTS / PG_POINTS of the same points (they are
# 10-100x slower; their rate is per point, so a prefix measures it fine) and the script checks
# that all three agree on every point they share. Rates are points per CPU-second of the one core
# doing the work (thread CPU time for weir, process_time for shapely, the backend's utime+stime
# for PostGIS), so load from other processes on the machine does not skew the ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build-geo}
# bench/run.sh passes the weir binary; its folder is the build folder.
[ -f "$build" ] && build=$(dirname "$build")
POINTS=${POINTS:-10000000}
PG_POINTS=${PG_POINTS:-200000}
CELLS=${CELLS:-20000}
SEED=${SEED:-42}
WORK=${WORK:-/tmp/weir_geo_bench}
PY=/usr/bin/python3
mkdir -p "$WORK"
data=$here/tests/data/geo

# --- weir bench binary (CMake target geo_bench when the build defines it) ---------------------
if [ -x "$build/geo_bench" ]; then
  bench=$build/geo_bench
else
  ninja -C "$build" weir_geo >/dev/null
  bench=$WORK/geo_bench
  duck=$(dirname "$(find "$here/third_party/duckdb" -name libduckdb.so | head -n1)")
  c++ -std=c++20 -O2 -Wall -Wextra -Werror -I"$here/include" -I"$here/src" \
    -I"$here/third_party/duckdb/include" "$here/bench/geo/geo_bench.cc" \
    "$build/libweir_geo.a" "$build/libweir_core.a" -lgeos_c -lyaml-cpp -lfmt \
    -L"$duck" -lduckdb -Wl,-rpath,"$duck" -o "$bench"
fi

# --- data ------------------------------------------------------------------------------------
cells_csv=$WORK/voronoi_$CELLS.csv
if [ ! -f "$cells_csv" ]; then
  echo "generating the $CELLS-cell Voronoi layer..."
  $PY "$data/make_voronoi.py" "$data/countries.csv" "$CELLS" 7 "$cells_csv.tmp"
  mv "$cells_csv.tmp" "$cells_csv"
fi
cat > "$WORK/countries.yaml" <<YAML
layers:
  - {name: countries, file: $data/countries.csv, attributes: {country: name, iso_a3: iso_a3}}
YAML
cat > "$WORK/cells.yaml" <<YAML
layers:
  - {name: cells, file: $cells_csv, attributes: {cell: cell}}
YAML
pts=$WORK/points_${POINTS}_$SEED.bin
if [ ! -f "$pts" ]; then
  $PY -c "
import numpy as np
rng = np.random.default_rng($SEED)
p = np.empty(($POINTS, 2)); p[:, 0] = rng.uniform(-180, 180, $POINTS); p[:, 1] = rng.uniform(-90, 90, $POINTS)
p.astype('<f8').tofile('$pts')"
fi
echo "points: $POINTS uniform over lon [-180,180] x lat [-90,90], seed $SEED"

# --- PostGIS server on loopback ------------------------------------------------------------------
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
pgdir=$(mktemp -d /tmp/weir_geo_pg.XXXXXX)
pgport=${PGPORT_BENCH:-55439}
as_pg=()
if [ "$(id -u)" -eq 0 ]; then chown postgres "$pgdir"; as_pg=(runuser -u postgres --); fi
cleanup() { "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap cleanup EXIT
"${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -A trust -U postgres >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -c port=$pgport -c unix_socket_directories=$pgdir -c max_parallel_workers_per_gather=0 -c shared_buffers=256MB -c work_mem=256MB" start >/dev/null
psql=(psql -X -q -h 127.0.0.1 -p "$pgport" -U postgres -d postgres -v ON_ERROR_STOP=1)
"${psql[@]}" -c "CREATE EXTENSION postgis"

# Loads a layer CSV (WKT in the first column) as poly(id = 0-based row, geom).
pg_load_layer() {
  "${psql[@]}" -c "DROP TABLE IF EXISTS poly; CREATE TABLE poly(id serial, wkt text, rest text)"
  $PY -c "
import csv, sys
csv.field_size_limit(1 << 30)
r = csv.reader(open('$1', newline='')); h = next(r); w = csv.writer(sys.stdout)
for row in r: w.writerow([row[0], '|'.join(row[1:])])" \
    | "${psql[@]}" -c "\copy poly(wkt, rest) FROM STDIN CSV"
  "${psql[@]}" -c "ALTER TABLE poly ADD COLUMN geom geometry; UPDATE poly SET id = id - 1, geom = ST_GeomFromText(wkt);
                   CREATE INDEX ON poly USING gist(geom); ANALYZE poly"
}

pg_bench() {  # $1 = name, $2 = ids out
  # One session: read our backend's CPU ticks before and after the lookup query.
  "${psql[@]}" -At > "$WORK/pg_$1.out" <<SQL
\o $WORK/pg_pid
SELECT pg_backend_pid();
\o
\! cat /proc/\$(cat $WORK/pg_pid)/stat | awk '{print \$14+\$15}' > $WORK/pg_t0
\o $2
SELECT coalesce((SELECT c.id FROM poly c WHERE ST_Covers(c.geom, p.geom) ORDER BY c.id LIMIT 1), -1)
FROM pts p ORDER BY p.i;
\o
\! cat /proc/\$(cat $WORK/pg_pid)/stat | awk '{print \$14+\$15}' > $WORK/pg_t1
SQL
  local hz t0 t1
  hz=$(getconf CLK_TCK); t0=$(cat "$WORK/pg_t0"); t1=$(cat "$WORK/pg_t1")
  $PY -c "n=$PG_POINTS; s=($t1-$t0)/$hz; print('postgis points=%d cpu_s=%.2f points_per_cpu_s=%.0f' % (n, s, n/s))"
}

"${psql[@]}" -c "CREATE TABLE pts(i int primary key, geom geometry)"
$PY -c "
import numpy as np, sys
p = np.fromfile('$pts', dtype='<f8', count=2 * $PG_POINTS).reshape(-1, 2)
sys.stdout.write(''.join('%d\tSRID=0;POINT(%r %r)\n' % (i, x, y) for i, (x, y) in enumerate(p)))" \
  | "${psql[@]}" -c "\copy pts FROM STDIN"
"${psql[@]}" -c "ANALYZE pts"

rate() { sed -n "s/.*$1.*points_per_cpu_s=\([0-9]*\).*/\1/p" | head -n1; }

declare -A R
for layer in countries cells; do
  if [ $layer = countries ]; then csvf=$data/countries.csv; sp=${SHAPELY_POINTS:-1000000}; else csvf=$cells_csv; sp=${SHAPELY_POINTS:-200000}; fi
  echo "=== layer $layer ==="
  out=$("$bench" "$WORK/$layer.yaml" "$pts" "$WORK/weir_$layer.ids" "$sp")
  echo "$out"
  R[weir_$layer]=$(echo "$out" | rate "weir find")
  out=$($PY "$here/bench/geo/shapely_bench.py" "$csvf" "$pts" "$sp" "$WORK/shapely_$layer.ids")
  echo "$out"
  R[shapely_$layer]=$(echo "$out" | rate shapely)
  pg_load_layer "$csvf"
  out=$(pg_bench "$layer" "$WORK/pg_$layer.ids")
  echo "$out"
  R[pg_$layer]=$(echo "$out" | rate postgis)
  cmp -s "$WORK/weir_$layer.ids" "$WORK/shapely_$layer.ids" && echo "agreement: weir == shapely on all $sp points" \
    || { echo "DISAGREEMENT weir vs shapely"; exit 1; }
  head -n "$PG_POINTS" "$WORK/weir_$layer.ids" | cmp -s - "$WORK/pg_$layer.ids" && echo "agreement: weir == PostGIS on all $PG_POINTS points" \
    || { echo "DISAGREEMENT weir vs PostGIS"; exit 1; }
done

echo
echo "=== points per second per core (CPU time) ==="
printf '%-10s %14s %14s %14s %12s %12s\n' layer weir shapely postgis weir/shapely weir/postgis
for layer in countries cells; do
  w=${R[weir_$layer]}; s=${R[shapely_$layer]}; p=${R[pg_$layer]}
  $PY -c "print('%-10s %14d %14d %14d %11.1fx %11.1fx' % ('$layer', $w, $s, $p, $w / $s, $w / $p))"
done
echo "targets: countries >= 3,000,000/s; cells >= 1,000,000/s; >= 10x shapely on both"
