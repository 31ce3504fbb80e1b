#!/usr/bin/env bash
# The task store as a task queue: claims per second of W worker processes over tiny tasks, on
# PostgreSQL (a throwaway server on loopback) and on SQLite, with a plain PostgreSQL peer.
#
#   bench/store_claims/run.sh [WEIR_BINARY | BUILD_DIR]      (default: build/)
#
# Needs the store_claims_bench target (cmake --build build --target store_claims_bench) and the
# PostgreSQL server binaries, psql and pgbench (Debian: postgresql, postgresql-client).
#
# For each W in CLAIMS_WORKERS and each store in CLAIMS_STORES:
#   weir:  store_claims_bench lays out CLAIMS_TASKS CREATED tasks (Store::EnsureTasks; on
#          PostgreSQL then VACUUM ANALYZE), then forks W workers that each loop
#          ClaimNextTask -> Commit(COMPLETED, fenced by the claim's attempts) until the queue is
#          empty, with a Store::Heartbeat every CLAIMS_HEARTBEAT_MS (see store_claims_bench.cc).
#   peer:  (PostgreSQL) the same number of tasks of another dataset in the same `tasks` table,
#          claimed and completed by pgbench with W clients running bench/store_claims/peer.sql:
#          the same claim query (FOR UPDATE SKIP LOCKED, same predicate, same index) and the
#          same fenced UPDATE, as plain SQL without weir's store layer.
# Prints one table; writes bench/out/store_claims/result.json.
#
# Environment: CLAIMS_TASKS (100000), CLAIMS_WORKERS ("1 2 4"), CLAIMS_STORES
# ("postgresql sqlite"), CLAIMS_HEARTBEAT_MS (1000), CLAIMS_PEER (1; 0 skips pgbench),
# CLAIMS_PG_FSYNC (on: the server's default durability; off for a figure without the disk),
# CLAIMS_PG_URL (use this server instead of starting one: its database is written to!).
# Exit status: 0 when every run was exact (each task completed once), 1 otherwise, 2 on setup
# errors.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/bench/out/store_claims"
die() { echo "bench/store_claims: $*" >&2; exit 2; }

build=${1:-$repo/build}
[ -f "$build" ] && build=$(dirname "$build")  # bench/run.sh passes the weir binary
bench="$build/store_claims_bench"
[ -x "$bench" ] || die "no $bench (cmake --build $build --target store_claims_bench)"
tasks=${CLAIMS_TASKS:-100000}
workers=${CLAIMS_WORKERS:-1 2 4}
stores=${CLAIMS_STORES:-postgresql sqlite}
beat_ms=${CLAIMS_HEARTBEAT_MS:-1000}
peer=${CLAIMS_PEER:-1}
fsync=${CLAIMS_PG_FSYNC:-on}
rm -rf "$out" && mkdir -p "$out"

load() { cut -d' ' -f1 /proc/loadavg; }
warn_load() {
  local l
  l=$(load)
  awk -v l="$l" 'BEGIN { exit !(l > 1.5) }' && echo "  warning: load average $l > 1.5 at the start: not comparable" >&2
  echo "$l"
}

# --- PostgreSQL ------------------------------------------------------------------------------
pg_url=${CLAIMS_PG_URL:-}
pgdir=""
as_pg=()
cleanup() {
  if [ -n "$pgdir" ]; then
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$pgdir"
  fi
}
trap cleanup EXIT
if [[ " $stores " == *" postgresql "* ]] && [ -z "$pg_url" ]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [ -x "$pgbin/initdb" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
  pgdir=$(mktemp -d /tmp/weir_claims_pg.XXXXXX)
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$pgdir"; as_pg=(runuser -u postgres --); fi
  "${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -A trust -U weir -E UTF8 --locale=C >/dev/null \
    || die "initdb failed"
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -o \
    "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$pgdir -c fsync=$fsync -c max_connections=100" \
    start >/dev/null || die "postgres did not start (see $pgdir/log)"
  psql -X -q -h 127.0.0.1 -p "$port" -U weir -d postgres -c "CREATE DATABASE claims" \
    || die "CREATE DATABASE failed"
  pg_url="postgresql://weir@127.0.0.1:$port/claims"
fi
psql_store() { psql -X -q -v ON_ERROR_STOP=1 "$pg_url" "$@"; }

# --- runs ------------------------------------------------------------------------------------
status=0
rows=()
json_runs=()
for store in $stores; do
  case "$store" in
    postgresql) url=$pg_url ;;
    sqlite) url="$out/claims.db" ;;
    *) die "unknown store '$store' (postgresql, sqlite)" ;;
  esac
  for w in $workers; do
    l=$(warn_load)
    echo "== $store, $w worker(s), $tasks tasks (load $l)" >&2
    "$bench" --store "$url" --tasks "$tasks" --setup-only >&2 || die "setup failed"
    [ "$store" = postgresql ] && psql_store -c "VACUUM ANALYZE tasks"
    line=$("$bench" --store "$url" --tasks "$tasks" --workers "$w" --no-setup \
             --heartbeat-ms "$beat_ms" --json "$out/$store-$w.json")
    rc=$?
    echo "$line" >&2
    [ $rc -eq 0 ] || { echo "  weir run was not exact (exit $rc)" >&2; status=1; }
    j=$(cat "$out/$store-$w.json" 2>/dev/null || echo '{}')
    peer_rate=""
    if [ "$store" = postgresql ] && [ "$peer" = 1 ]; then
      per_client=$((tasks / w))
      "$bench" --store "$url" --dataset peer --tasks "$((per_client * w))" --setup-only >&2 \
        || die "peer setup failed"
      psql_store -c "VACUUM ANALYZE tasks"
      pgbench -n -r -c "$w" -j "$w" -t "$per_client" -f "$here/peer.sql" "$pg_url" \
        >"$out/pgbench-$w.log" 2>&1 || { echo "  pgbench failed: see $out/pgbench-$w.log" >&2; status=1; }
      peer_rate=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out/pgbench-$w.log" | head -n1)
      done_n=$(psql_store -At -c "SELECT count(*) FROM tasks WHERE dataset = 'peer' AND status = 'COMPLETED' AND attempts = 1")
      if [ "$done_n" != "$((per_client * w))" ]; then
        echo "  peer completed $done_n of $((per_client * w)) tasks" >&2
        status=1
      fi
      echo "  peer (pgbench, $w clients): $peer_rate claims/s" >&2
    fi
    rows+=("$(J="$j" PEER="$peer_rate" LOAD="$l" /usr/bin/python3 -c '
import json, os
j = json.loads(os.environ["J"] or "{}")
peer = float(os.environ["PEER"]) if os.environ["PEER"] else None
rate = j.get("claims_per_s", 0)
rb = j.get("pg_rollbacks", -1)
ms = lambda k: "%.2f" % j.get(k, 0)
cells = [j.get("store", "?"), str(j.get("workers", "?")), os.environ["LOAD"],
         f"{rate:,.0f}",
         ms("claim_p50_ms") + " / " + ms("claim_p99_ms"),
         ms("commit_p50_ms") + " / " + ms("commit_p99_ms"),
         str(rb) if rb >= 0 else "n/a",
         "yes" if j.get("exact") else "NO",
         f"{peer:,.0f}" if peer else "-",
         f"{rate / peer:.2f}" if peer else "-"]
print("| " + " | ".join(cells) + " |")
')")
    json_runs+=("$(J="$j" PEER="${peer_rate:-null}" LOAD="$l" /usr/bin/python3 -c '
import json, os
j = json.loads(os.environ["J"] or "{}")
j["load_avg"] = float(os.environ["LOAD"])
j["peer_pgbench_claims_per_s"] = None if os.environ["PEER"] == "null" else float(os.environ["PEER"])
print(json.dumps(j))')")
  done
done

echo
echo "store_claims: $tasks tasks, heartbeat every $beat_ms ms, PostgreSQL fsync=$fsync, $(nproc) cores"
echo "| store | workers | load | claims/s | claim p50 / p99 ms | commit p50 / p99 ms | PG rollbacks | exact | peer claims/s | weir / peer |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
{
  echo "{\"tasks\": $tasks, \"heartbeat_ms\": $beat_ms, \"pg_fsync\": \"$fsync\", \"runs\": ["
  printf '%s\n' "${json_runs[@]}" | paste -sd, -
  echo "]}"
} >"$out/result.json"
exit $status
