#!/usr/bin/env bash
# Collector benchmark: throughput and latency of the HTTP collector (read.connector http) into a
# partitioned Iceberg lake, with exactness checked afterwards.
#
#   bench/collector/run.sh WEIR_BINARY
#
# 1. `weir gen events` writes COLLECTOR_POOL events (default 400,000, ~100 MB) with no duplicate,
#    malformed or blank lines into bench/out/collector/data: the pool the client sends from
#    (ids are made unique per pass over the pool, see loadgen.py).
# 2. bench/out/collector/dataset.yaml: read.connector http on a free loopback port, the
#    click-stream columns of bench/ingest, partition_by [event_type, dt] (COLLECTOR_PARTITION_BY),
#    stream {commit_interval: COLLECTOR_COMMIT_INTERVAL (1s), pipeline: COLLECTOR_PIPELINE (the
#    default, true, when unset), metrics_listen: a free port}.
# 3. `weir run` in the background (under /usr/bin/time -v for CPU and peak RSS).
# 4. loadgen.py (Python 3, standard library): COLLECTOR_THREADS (4) keep-alive connections POST
#    COLLECTOR_BATCH (500)-event JSON-lines bodies as fast as they are answered for
#    COLLECTOR_DURATION (20) seconds; then waits until the table holds every acknowledged event.
#    (COLLECTOR_CLIENT=wrk: wrk with wrk_post.lua sends the same load, see bench/README.md.)
#    Meanwhile it reads the table's current snapshot (`weir lake snapshots --json`) every
#    COLLECTOR_POLL (0.25) s, GET /metrics every 0.25 s and, when COLLECTOR_QUERY_POLL is set
#    (seconds; off by default: see loadgen.py), `weir query "SELECT count(*)"`.
# 5. SIGTERM to weir (it must exit 0), then DuckDB (bench/ingest/duckdb_peer.mjs count) reads the
#    table's data files and `weir query` the table: both must hold exactly the acknowledged
#    events, each id once.
# 6. Prints events/s, request latency p50/p99, 429s, visibility lag, weir's CPU and RSS, and
#    writes bench/out/collector/result.json.
#
# No peer: no fair one is installed or installable here (see bench/README.md, "collector").
# Exit status: 0 when the run was exact, 1 when weir failed or the lake is not exact, 2 on a
# setup error.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/bench/out/collector"
pool=${COLLECTOR_POOL:-400000}
seed=${COLLECTOR_SEED:-20240613}
threads=${COLLECTOR_THREADS:-4}
batch=${COLLECTOR_BATCH:-500}
duration=${COLLECTOR_DURATION:-20}
poll=${COLLECTOR_POLL:-0.25}
query_poll=${COLLECTOR_QUERY_POLL:-0}
interval=${COLLECTOR_COMMIT_INTERVAL:-1s}
days=${COLLECTOR_DAYS:-7}
types=${COLLECTOR_EVENT_TYPES:-300}
partition_by=${COLLECTOR_PARTITION_BY:-event_type, dt}
client=${COLLECTOR_CLIENT:-python}

die() { echo "bench/collector: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: bench/collector/run.sh WEIR_BINARY"
weir=$(realpath -m "$1")
[ -x "$weir" ] || die "cannot run '$weir' (build the weir target)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package 'time')"
[ -x /usr/bin/python3 ] || die "/usr/bin/python3 not found"
command -v node >/dev/null || die "node not found (run scripts/install-deps.sh)"
[ "$client" != wrk ] || command -v wrk >/dev/null \
  || die "wrk not found (run scripts/install-deps.sh, or COLLECTOR_CLIENT=python)"

mkdir -p "$out"
rm -rf "$out/data" "$out/lake" "$out/errors" "$out/.weir" "$out/wrk"
rm -f "$out"/*.time "$out"/*.log "$out"/*.json "$out"/*.txt "$out"/dataset.yaml

loadavg() { cut -d' ' -f1 /proc/loadavg; }
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

echo "== generating a pool of $pool events (seed $seed, no duplicates/malformed/blank lines)"
"$weir" gen events --count "$pool" --files 2 --seed "$seed" --duplicates 0 --malformed 0 \
  --blank 0 --days "$days" --event-types "$types" --out "$out/data" | tee "$out/gen.log" \
  || die "generation failed"

port=$(free_port)
mport=$(free_port)
[ "$port" != "$mport" ] || mport=$(free_port)
cat >"$out/dataset.yaml" <<YAML
# Written by bench/collector/run.sh: the click-stream columns of bench/ingest, from the collector.
name: collector-bench
read:
  connector: http
  listen: 127.0.0.1:${port}
  parser: jsonl
write:
  connector: lake
  location: lake
  table: events
  format: parquet
  partition_by: [${partition_by}]
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
  location: errors
stream:
  commit_interval: ${interval}
${COLLECTOR_PIPELINE:+  pipeline: $COLLECTOR_PIPELINE}
  metrics_listen: 127.0.0.1:${mport}
store: .weir
YAML

# Start weir; wait for /healthz.
weir_load=$(loadavg)
echo "== weir run (collector on 127.0.0.1:$port, load average $weir_load)"
/usr/bin/time -v -o "$out/weir.time" "$weir" run --no-progress "$out/dataset.yaml" >"$out/weir.log" 2>&1 &
time_pid=$!
weir_pid=""
for _ in $(seq 1 300); do
  [ -n "$weir_pid" ] || weir_pid=$(pgrep -P "$time_pid" -x weir || true)
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
  kill -0 "$time_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$weir_pid" ] || weir_pid=$(pgrep -P "$time_pid" -x weir || true)
if ! curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
  echo "bench/collector: weir did not start; last lines of $out/weir.log:"
  tail -n 5 "$out/weir.log" | sed 's/^/    /'
  [ -n "$weir_pid" ] && kill -9 "$weir_pid" 2>/dev/null
  wait "$time_pid" 2>/dev/null
  exit 1
fi

/usr/bin/python3 "$here/loadgen.py" --url "http://127.0.0.1:$port/v1/events" --data "$out/data" \
  --json "$out/loadgen.json" --threads "$threads" --batch "$batch" --duration "$duration" \
  --metrics "http://127.0.0.1:$mport/metrics" --weir "$weir" --dataset "$out/dataset.yaml" \
  --poll "$poll" --query-poll "$query_poll" --client "$client" --work "$out/wrk" 2>&1 \
  | tee "$out/loadgen.log"
load_status=${PIPESTATUS[0]}
end_load=$(loadavg)

# SIGTERM: weir commits what it read and exits 0.
kill -TERM "$weir_pid" 2>/dev/null
wait "$time_pid"
weir_status=$?
[ "$weir_status" = 0 ] || { echo "bench/collector: weir exited with $weir_status after SIGTERM; last lines:";
                            tail -n 5 "$out/weir.log" | sed 's/^/    /'; }

# The independent reader: DuckDB over the table's data files (only committed files are ever
# renamed into data/, and SIGTERM left nothing pending), and weir's own query over the snapshot.
node "$repo/bench/ingest/duckdb_peer.mjs" count --lake "$out/lake/events/data" \
  --json "$out/duckdb_count.json" >/dev/null 2>"$out/duckdb.log" \
  || echo "bench/collector: DuckDB could not read the lake: $(cat "$out/duckdb.log")"
"$weir" query "$out/dataset.yaml" "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM events" \
  --format json >"$out/weir_query.json" 2>>"$out/weir.log" || echo "bench/collector: weir query failed"
"$weir" tasks "$out/dataset.yaml" --json >"$out/tasks.json" 2>>"$out/weir.log" || true

config=$(printf '{"pool": %s, "seed": %s, "days": %s, "event_types": %s, "partition_by": "%s", "commit_interval": "%s", "threads": %s, "batch": %s, "duration_s": %s}' \
  "$pool" "$seed" "$days" "$types" "$partition_by" "$interval" "$threads" "$batch" "$duration")
/usr/bin/python3 - "$out" "$weir_status" "$load_status" "$weir_load" "$end_load" "$config" <<'PY'
import json, os, sys
out, weir_status, load_status, weir_load, end_load = sys.argv[1:6]
config = json.loads(sys.argv[6])
def load(name):
    p = os.path.join(out, name)
    try:
        return json.load(open(p))
    except Exception:
        return None
lg = load("loadgen.json") or {}
duck = load("duckdb_count.json") or {}
wq = load("weir_query.json")
wq = wq[0] if isinstance(wq, list) and wq else (wq or {})
tasks = load("tasks.json") or []
gen = load("data/gen-summary.json") or {}
t = {}
if os.path.exists(os.path.join(out, "weir.time")):
    for line in open(os.path.join(out, "weir.time")):
        k, _, v = line.strip().rpartition(": ")
        t[k] = v
cpu = None
if "User time (seconds)" in t:
    cpu = float(t["User time (seconds)"]) + float(t["System time (seconds)"])
rss = int(t["Maximum resident set size (kbytes)"]) / 1024 if "Maximum resident set size (kbytes)" in t else None
acked = lg.get("acked_events")
exact = (acked is not None and lg.get("failures") == 0 and duck.get("rows") == acked
         and duck.get("distinct_ids") == acked and int(wq.get("n", -1)) == acked
         and int(wq.get("ids", -1)) == acked and weir_status == "0")
res = {
    "benchmark": "collector",
    "config": config,
    "peer": None,
    "peer_note": "no fair peer is installed or installable here: see bench/README.md (collector)",
    "pool_events": gen.get("totals", {}).get("events"),
    "loadgen": lg,
    "weir": {"exit_status_after_sigterm": int(weir_status), "cpu_s": cpu, "peak_rss_mib": rss,
             "user_s": float(t.get("User time (seconds)", "nan")),
             "sys_s": float(t.get("System time (seconds)", "nan")),
             "acked_events_per_cpu_s": acked / cpu if acked and cpu else None,
             "load_average_at_start": float(weir_load), "load_average_after_load": float(end_load)},
    "lake": {"duckdb_rows": duck.get("rows"), "duckdb_distinct_ids": duck.get("distinct_ids"),
             "files": duck.get("files"), "bytes": duck.get("bytes"),
             "weir_query_rows": wq.get("n"), "weir_query_distinct_ids": wq.get("ids"),
             "task": tasks[0] if tasks else None},
    "exact": exact,
    "target_events_per_s": 200000,
}
json.dump(res, open(os.path.join(out, "result.json"), "w"), indent=1)
f = lambda v, d=0: "-" if v is None else f"{v:,.{d}f}"
ms = lambda v: "-" if v is None else f"{v * 1000:.1f} ms"
lat = lg.get("latency_s", {})
vis = lg.get("visible_s") or {}
qv = lg.get("query_visible_s") or {}
com = lg.get("committed_s") or {}
print(f"\n== collector: {lg.get('threads')} connections x {lg.get('batch')}-event bodies, "
      f"{lg.get('duration_s')} s, partition_by [{config['partition_by']}] over {config['event_types']} "
      f"event types x {config['days']} days, commit_interval {config['commit_interval']}, "
      f"{f(lg.get('commits'))} commits")
print(f"acknowledged   {f(acked)} events in {f(lg.get('acked_requests'))} requests over "
      f"{f(lg.get('load_seconds'), 1)} s: {f(lg.get('acked_events_per_s'))} events/s "
      f"({f(lg.get('acked_mb_per_s'), 1)} MB/s); target 200,000")
print(f"into the lake  {f(lg.get('lake_events_per_s'))} events/s (first request to the snapshot "
      f"holding the last acknowledged event; drained {f(lg.get('drain_seconds_after_load'), 1)} s "
      f"after the load; max backlog {f((lg.get('max_lag_bytes') or 0) / 1e6, 1)} MB)")
print(f"request        p50 {ms(lat.get('p50'))}, p90 {ms(lat.get('p90'))}, p99 {ms(lat.get('p99'))}, "
      f"max {ms(lat.get('max'))} (to the whole 200 answer); 429: {lg.get('throttled_429')}; "
      f"failures: {lg.get('failures')}")
def lagline(name, v, what):
    if not v or v.get("p50_hi") is None:
        print(f"{name:<14} - ({what})")
        return
    print(f"{name:<14} p50 {f(v.get('p50_lo'), 2)}-{f(v.get('p50_hi'), 2)} s, p99 "
          f"{f(v.get('p99_lo'), 2)}-{f(v.get('p99_hi'), 2)} s after the 200 ({what}; "
          f"{v.get('samples')} reads of {f(v.get('probe_seconds_p50'), 3)} s)")
lagline("visible", vis, "current snapshot's rows, weir lake snapshots")
if qv:
    lagline("count(*)", qv, "weir query count(*)")
print(f"committed      p50 <= {f(com.get('p50_hi'), 2)} s, p99 <= {f(com.get('p99_hi'), 2)} s after the "
      f"200 (/metrics records written, read every 0.25 s)")
print(f"weir process   {f(cpu, 1)} CPU-s ({f(res['weir']['user_s'], 1)} user, "
      f"{f(res['weir']['sys_s'], 1)} sys), {f(res['weir']['acked_events_per_cpu_s'])} events per "
      f"CPU-s, peak RSS {f(rss)} MiB; client {f(lg.get('client_cpu_s'), 1)} CPU-s + probes "
      f"{f(lg.get('probe_cpu_s'), 1)} CPU-s")
print(f"lake           DuckDB {f(duck.get('rows'))} rows / {f(duck.get('distinct_ids'))} ids in "
      f"{f(duck.get('files'))} files; weir query {wq.get('n')} / {wq.get('ids')}; acknowledged "
      f"{f(acked)}: {'EXACT' if exact else 'MISMATCH'}")
print("peer           none: no fair peer is installed or installable here (bench/README.md)")
print(f"load average   {weir_load} when weir started, {end_load} at the end of the load (that one "
      f"includes this benchmark's own ~2 busy processes)")
if float(weir_load) > 1.5:
    print(f"WARNING: load average {weir_load} at the start: other work shares the CPUs")
print(f"result: {os.path.join(out, 'result.json')}")
sys.exit(0 if exact and load_status == "0" else 1)
PY
