#!/usr/bin/env bash
# kill -9 soak of the HTTP collector: no acknowledged event lost, none duplicated, nothing
# invented, and every malformed line an error record exactly once.
#
#   bench/stream_soak/run.sh WEIR_BINARY [TRIALS]      (TRIALS default 20)
#
# 1. bench/out/stream_soak/dataset.yaml: read.connector http on a free loopback port, table
#    `events` (id, ts, n; partition_by [dt]), stream.commit_interval SOAK_COMMIT_INTERVAL (200ms:
#    several commits, and kills inside them, per trial). One dataset for every trial.
# 2. soak.py: per trial, `weir run` in the background; SOAK_CLIENTS (3) keep-alive clients POST
#    SOAK_BATCH (200)-event bodies of numbered events, every 4th body with three malformed lines
#    (not JSON, a wrong type, a missing required field), and record which were acknowledged;
#    SIGKILL after a random 0.3-2 s (SOAK_SEED); `weir query` must then show no duplicate.
#    One summary line per trial.
# 3. `weir run DATASET --until-idle 2s`: reads what the log still holds, exits 0.
# 4. Checks, each independent of weir's own bookkeeping where possible:
#    - DuckDB (check_lake.mjs) over the Parquet files under lake/events/data (only committed
#      files are ever renamed in there, and step 3 finished or discarded every pending one);
#    - icebird (icebird_ids.mjs, the Iceberg reader of tests/lake/icebird_read.mjs) through the
#      Iceberg metadata, over a python3 http.server on loopback (serve_dir.py);
#    each must hold every acknowledged id exactly once, no id twice, and no id never sent;
#    - `weir errors --json`: every acknowledged malformed line's marker exactly once, none twice,
#      none never sent, no other error record;
#    - `weir tasks --json`: written == the lake's rows, errored == the error records,
#      read == written + errored + skipped.
# Prints PASS or FAIL and writes bench/out/stream_soak/result.json. Exit 0 on PASS, 1 on FAIL,
# 2 on a setup error.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/bench/out/stream_soak"
trials=${2:-20}
clients=${SOAK_CLIENTS:-3}
batch=${SOAK_BATCH:-200}
seed=${SOAK_SEED:-20240614}
interval=${SOAK_COMMIT_INTERVAL:-200ms}
node_modules=${WEIR_NODE_MODULES:-$repo/third_party/node/node_modules}

die() { echo "bench/stream_soak: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: bench/stream_soak/run.sh WEIR_BINARY [TRIALS]"
weir=$(realpath -m "$1")
[ -x "$weir" ] || die "cannot run '$weir' (build the weir target)"
[ -x /usr/bin/python3 ] || die "/usr/bin/python3 not found"
command -v node >/dev/null || die "node not found (run scripts/install-deps.sh)"
[ -f "$node_modules/icebird/src/index.js" ] || die "icebird missing in $node_modules (run scripts/install-deps.sh)"

rm -rf "$out"
mkdir -p "$out"
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
cat >"$out/dataset.yaml" <<YAML
# Written by bench/stream_soak/run.sh: one stream dataset that every trial runs and kills.
name: soak
read:
  connector: http
  listen: 127.0.0.1:${port}
  parser: jsonl
write:
  connector: lake
  location: lake
  table: events
  partition_by: [dt]
  columns:
    id: {path: /id, type: string, required: true}
    ts: {path: /ts, type: timestamp_ms, required: true}
    n:  {path: /n, type: int64}
    dt: {date_of: ts}
errors:
  location: errors
stream:
  commit_interval: ${interval}
store: .weir
YAML

echo "== $trials trials: $clients clients x $batch-event bodies, SIGKILL after 0.3-2 s, commit_interval $interval (load average $(cut -d' ' -f1 /proc/loadavg))"
/usr/bin/python3 "$here/soak.py" --weir "$weir" --dataset "$out/dataset.yaml" \
  --url "http://127.0.0.1:$port/v1/events" --out "$out" --trials "$trials" --clients "$clients" \
  --batch "$batch" --seed "$seed"
soak_status=$?

echo "== final run: weir run --until-idle 2s"
"$weir" run "$out/dataset.yaml" --until-idle 2s --no-progress --json >"$out/final_run.json" 2>>"$out/weir.log"
final_status=$?
"$weir" tasks "$out/dataset.yaml" --json >"$out/tasks.json" 2>>"$out/weir.log"
"$weir" errors "$out/dataset.yaml" --json >"$out/errors.jsonl" 2>>"$out/weir.log"
errors_status=$?

echo "== DuckDB over lake/events/data"
node "$here/check_lake.mjs" --lake "$out/lake/events/data" --acked "$out/acked_ids.txt" \
  --sent "$out/sent_ids.txt" --json "$out/duckdb.json" 2>"$out/duckdb.log" \
  || echo "bench/stream_soak: DuckDB check failed: $(tail -n 3 "$out/duckdb.log")"

echo "== icebird through the Iceberg metadata"
hport=$(free_port)
/usr/bin/python3 "$here/serve_dir.py" "$hport" "$out" >"$out/http.log" 2>&1 &
http_pid=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$hport/dataset.yaml" 2>/dev/null && break
  sleep 0.05
done
node "$here/icebird_ids.mjs" "$node_modules" "http://127.0.0.1:$hport/lake/events" \
  "$out/=http://127.0.0.1:$hport/" >"$out/icebird_ids.txt" 2>"$out/icebird.log"
icebird_status=$?
kill "$http_pid" 2>/dev/null
wait "$http_pid" 2>/dev/null
[ "$icebird_status" = 0 ] || echo "bench/stream_soak: icebird failed: $(tail -n 3 "$out/icebird.log")"

/usr/bin/python3 - "$out" "$soak_status" "$final_status" "$errors_status" "$icebird_status" <<'PY'
import collections, json, os, re, sys
out = sys.argv[1]
soak_status, final_status, errors_status, icebird_status = map(int, sys.argv[2:6])
def lines(name):
    p = os.path.join(out, name)
    return [l for l in open(p).read().split("\n") if l] if os.path.exists(p) else []
def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except Exception:
        return None
soak = load("soak.json") or {}
duck = load("duckdb.json")
tasks = load("tasks.json") or []
acked, sent = set(lines("acked_ids.txt")), set(lines("sent_ids.txt"))
acked_bad, sent_bad = set(lines("acked_bad.txt")), set(lines("sent_bad.txt"))
checks = []  # (name, ok, detail)
def check(name, ok, detail=""):
    checks.append((name, bool(ok), detail))

check("every trial's own check (no duplicate visible after a kill, answers as sent)",
      soak_status == 0 and soak.get("trials_failed", 1) == 0,
      f"{soak.get('trials_failed')} trial(s) failed")
check("final `weir run --until-idle 2s` exits 0", final_status == 0, f"exit {final_status}")

# DuckDB over the data files.
if duck is None:
    check("DuckDB read the lake", False, "see duckdb.log")
else:
    check("DuckDB: every acknowledged id is in the lake", duck["missing_acked"] == 0,
          f"{duck['missing_acked']} missing, e.g. {duck['missing_examples']}")
    check("DuckDB: no id twice", duck["duplicated_ids"] == 0 and duck["rows"] == duck["distinct_ids"],
          f"{duck['duplicated_ids']} duplicated, e.g. {duck['duplicated_examples']}")
    check("DuckDB: no id that was never sent", duck["never_sent"] == 0,
          f"{duck['never_sent']}, e.g. {duck['never_sent_examples']}")

# icebird through the Iceberg metadata.
ice = lines("icebird_ids.txt")
if icebird_status != 0:
    check("icebird read the table", False, "see icebird.log")
else:
    c = collections.Counter(ice)
    twice = [i for i, n in c.items() if n > 1]
    check("icebird: every acknowledged id is in the table", not (acked - c.keys()),
          f"{len(acked - c.keys())} missing, e.g. {sorted(acked - c.keys())[:5]}")
    check("icebird: no id twice", not twice, f"{len(twice)} duplicated, e.g. {sorted(twice)[:5]}")
    check("icebird: no id that was never sent", not (c.keys() - sent),
          f"{len(c.keys() - sent)}, e.g. {sorted(c.keys() - sent)[:5]}")
    if duck is not None:
        check("icebird and DuckDB agree on the row count", len(ice) == duck["rows"],
              f"icebird {len(ice)}, DuckDB {duck['rows']}")

# Error records: one per malformed line.
marker = re.compile(r"BAD[TM]?-\d+")
errs = [json.loads(l) for l in lines("errors.jsonl")]
found = collections.Counter()
unexplained = 0
for e in errs:
    m = marker.search(e.get("excerpt", ""))
    if m:
        found[m.group(0)] += 1
    else:
        unexplained += 1
check("`weir errors --json` ran", errors_status == 0, f"exit {errors_status}")
check("every acknowledged malformed line is an error record", not (acked_bad - found.keys()),
      f"{len(acked_bad - found.keys())} missing, e.g. {sorted(acked_bad - found.keys())[:5]}")
twice = [k for k, n in found.items() if n > 1]
check("no malformed line is an error record twice", not twice, f"e.g. {sorted(twice)[:5]}")
check("no error record for a line never sent", not (found.keys() - sent_bad),
      f"e.g. {sorted(found.keys() - sent_bad)[:5]}")
check("no other error record", unexplained == 0, f"{unexplained} without a marker")

# The task's counters against the readers.
if len(tasks) == 1 and duck is not None:
    t = tasks[0]
    check("task: written == lake rows", t["written"] == duck["rows"], f"written {t['written']}, rows {duck['rows']}")
    check("task: errored == error records", t["errored"] == len(errs), f"errored {t['errored']}, records {len(errs)}")
    check("task: read == written + errored + skipped", t["read"] == t["written"] + t["errored"] + t["skipped"],
          f"read {t['read']}, written {t['written']}, errored {t['errored']}, skipped {t['skipped']}")
else:
    check("one collector task", False, f"{len(tasks)} task(s)")

passed = all(ok for _, ok, _ in checks)
trials = soak.get("trials", [])
summary = {
    "benchmark": "stream_soak", "passed": passed,
    "trials": len(trials), "trials_ok": sum(1 for t in trials if t["ok"]),
    "acked_events": len(acked), "sent_events": len(sent),
    "unacknowledged_landed": duck["unacknowledged_present"] if duck else None,
    "lake_rows": duck["rows"] if duck else None, "icebird_rows": len(ice) if icebird_status == 0 else None,
    "malformed_acked": len(acked_bad), "malformed_sent": len(sent_bad), "error_records": len(errs),
    "checks": [{"check": n, "ok": ok, "detail": d} for n, ok, d in checks],
}
json.dump(summary, open(os.path.join(out, "result.json"), "w"), indent=1)
fmt = lambda v: "?" if v is None else format(v, ",")
print(f"\n== stream_soak: {summary['trials_ok']}/{summary['trials']} trials ok; "
      f"{len(acked):,} acknowledged of {len(sent):,} sent events "
      f"({fmt(summary['unacknowledged_landed'])} unacknowledged ones landed); lake "
      f"{fmt(summary['lake_rows'])} rows (DuckDB), {fmt(summary['icebird_rows'])} (icebird); "
      f"{len(acked_bad)} acknowledged malformed lines, {len(errs)} error records")
for n, ok, d in checks:
    print(f"  {'ok  ' if ok else 'FAIL'} {n}" + ("" if ok else f": {d}"))
print("PASS" if passed else "FAIL")
print(f"result: {os.path.join(out, 'result.json')}")
sys.exit(0 if passed else 1)
PY
