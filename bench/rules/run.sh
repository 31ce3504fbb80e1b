#!/usr/bin/env bash
# Rules benchmark (issue 11): weir's rules over a files dataset vs a Python script doing the
# same matching, in the same run.
#
#   bench/rules/run.sh WEIR_BINARY
#
# 1. tests/rules/oracle.py gen writes RULES_COUNT marketplace events (default 1,000,000) in
#    RULES_FILES files (default 8): meeting proposals and acceptances (pairs, unanswered ones,
#    acceptances after the window), listings, page views, out-of-order and late records.
# 2. "rules + lake": the issue's dataset (two meeting patterns, the seller segment) writing the
#    events to a lake table (partitioned by event_type) AND the derived records to their own,
#    2 workers: `weir run --json` under /usr/bin/time -v. Events/s = events / wall seconds.
# 3. "rules only": the same with write.connector none.
# 4. Peer: tests/rules/oracle.py expect (pure Python, the same semantics) under /usr/bin/time,
#    on the same files. Its derived record count must equal weir's.
# 5. State for distinct keys: RULES_KEYS events (default 1,000,000), each a meeting proposal
#    with its own meeting id and user id (one partial match and one window per key), rules
#    only: keys and RocksDB bytes before the end of the input, and peak RSS.
# Prints the figures and ratios and writes bench/out/rules/result.json.
# Exit status: 0 when every part ran, 1 when weir failed, 2 on a setup error.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/bench/out/rules"
count=${RULES_COUNT:-1000000}
files=${RULES_FILES:-8}
keys=${RULES_KEYS:-1000000}
seed=${RULES_SEED:-5}
oracle="$repo/tests/rules/oracle.py"

die() { echo "bench/rules: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: bench/rules/run.sh WEIR_BINARY"
weir=$(realpath -m "$1")
[ -x "$weir" ] || die "cannot run '$weir' (build weir first)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package 'time')"

rm -rf "$out"
mkdir -p "$out"
wall() { sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1" |
         awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }'; }
peak_kb() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }

rules_yaml() {  # $1: the write section's first lines
  cat <<YAML
name: rules-bench
read: {connector: files, location: data, manifest: data/manifest.txt, parser: jsonl}
write:
$1
  columns:
    id:         {path: /data/id, type: string, required: true}
    event_type: {path: /data/type, type: string, required: true}
    created_at: {path: /meta/created_at, type: timestamp, required: true}
    user_id:    {path: /data/attributes/user_id, type: string}
    meeting_id: {path: /data/attributes/meeting_id, type: string}
errors: {location: errors}
compute: {workers: 2}
rules:
  event_time: created_at
  out_of_orderness: 5s
  output: {location: lake, table: derived}
$(cat "$here/contract-rules.yaml")
YAML
}

echo "== generating $count events in $files files (seed $seed)"
python3 "$oracle" gen --dir "$out/events" --seed "$seed" --events "$count" --files "$files" \
  2>"$out/gen.log" || die "generation failed"
bytes=$(du -sb "$out/events/data" | cut -f1)

run_weir() {  # $1 name, $2 data folder, $3 write section
  local d="$out/$1"
  mkdir -p "$d"
  ln -sfn "$2" "$d/data"
  rules_yaml "$3" >"$d/rules.yaml"
  /usr/bin/time -v "$weir" run "$d/rules.yaml" --json --no-progress >"$d/run.json" 2>"$d/time.log" ||
    { tail -n 20 "$d/time.log" >&2; echo "bench/rules: weir failed ($1)" >&2; return 1; }
}

status=0
echo "== weir: rules + lake (2 workers)"
run_weir lake "$out/events/data" "  connector: lake
  location: lake
  table: events
  partition_by: [event_type]" || status=1
echo "== weir: rules only (write.connector none)"
run_weir none "$out/events/data" "  connector: none" || status=1
echo "== peer: tests/rules/oracle.py expect (Python)"
/usr/bin/time -v python3 "$oracle" expect --dir "$out/events" >"$out/peer.jsonl" 2>"$out/peer.time" ||
  { echo "bench/rules: the Python peer failed" >&2; status=1; }

echo "== state: $keys distinct keys"
python3 - "$out/keys/data" "$keys" <<'PY'
import json, os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
t0 = 1761955200000  # 2025-11-01T00:00:00Z
with open(os.path.join(d, "keys.jsonl"), "w") as f:
    for i in range(n):
        ms = t0 + i * 50
        ts = "%s.%03dZ" % (__import__("time").strftime("%Y-%m-%dT%H:%M:%S", __import__("time").gmtime(ms // 1000)), ms % 1000)
        f.write(json.dumps({"data": {"id": "k%d" % i, "type": "meeting_proposal",
                                     "attributes": {"user_id": "u%d" % i, "meeting_id": "m%d" % i}},
                            "meta": {"created_at": ts}}) + "\n")
with open(os.path.join(d, "manifest.txt"), "w") as f:
    f.write("keys.jsonl\n")
PY
run_weir keys "$out/keys/data" "  connector: none" || status=1

python3 - "$out" "$count" "$bytes" "$keys" <<'PY'
import json, re, sys
out, count, nbytes, keys = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def timing(path):
    t = open(path).read()
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t)
    parts = [float(x) for x in m.group(1).split(":")] if m else [0]
    secs = sum(p * 60 ** (len(parts) - 1 - i) for i, p in enumerate(parts))
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", t)
    return secs, int(rss.group(1)) * 1024 if rss else 0
def run(name):
    try:
        j = json.load(open(f"{out}/{name}/run.json"))
    except Exception:
        return None
    secs, rss = timing(f"{out}/{name}/time.log")
    return {"seconds": secs, "events_per_s": count / secs if secs else 0, "peak_rss": rss,
            "rules": j.get("rules", {}), "read": j["run"]["read"]}
res = {"events": count, "input_bytes": nbytes, "lake": run("lake"), "none": run("none")}
psecs, prss = timing(f"{out}/peer.time")
peer_records = sum(1 for _ in open(f"{out}/peer.jsonl"))
res["peer"] = {"seconds": psecs, "events_per_s": count / psecs if psecs else 0, "peak_rss": prss,
               "derived": peer_records}
k = run("keys")
res["keys"] = {"events": keys, **(k or {})}
for name in ("lake", "none"):
    r = res[name]
    if not r:
        continue
    r["ratio_vs_python"] = r["events_per_s"] / res["peer"]["events_per_s"] if psecs else None
    print(f"{name:5s}: {count:,} events in {r['seconds']:.1f} s = {r['events_per_s']:,.0f} events/s "
          f"({r['ratio_vs_python']:.1f}x the Python peer), peak RSS {r['peak_rss'] / 2**20:.0f} MiB, "
          f"{r['rules'].get('derived', 0):,} derived, {r['rules'].get('late', 0):,} late")
    if r["rules"].get("derived") != peer_records:
        print(f"  MISMATCH: weir derived {r['rules'].get('derived')} records, the peer {peer_records}")
print(f"peer : {count:,} events in {psecs:.1f} s = {res['peer']['events_per_s']:,.0f} events/s, "
      f"peak RSS {prss / 2**20:.0f} MiB, {peer_records:,} derived")
if k:
    print(f"state: {keys:,} distinct keys -> {k['rules'].get('keys', 0):,} keys held before the end "
          f"of the input, RocksDB {k['rules'].get('state_bytes', 0) / 2**20:.0f} MiB, "
          f"peak RSS {k['peak_rss'] / 2**20:.0f} MiB, {k['seconds']:.1f} s")
json.dump(res, open(f"{out}/result.json", "w"), indent=2)
PY
exit $status
