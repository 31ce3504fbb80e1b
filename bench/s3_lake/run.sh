#!/usr/bin/env bash
# S3 lake benchmark: events in many objects on s3rver loaded into an Iceberg table on s3rver,
# against the same load from and to local disk.
#
#   bench/s3_lake/run.sh WEIR_BINARY
#
# 1. `weir gen events` writes S3_COUNT events (default 1,000,000) in S3_FILES files (default 200)
#    into bench/out/s3_lake/data (seed 20261203).
# 2. s3rver (npm, scripts/install-deps.sh) starts on a free loopback port; boto3 (Debian's
#    python3-boto3) uploads the files to s3://weir-bench/raw/.
# 3. weir loads them three times into a partitioned Iceberg table (event_type, dt), one commit
#    per 256 MiB, each run with --restart under /usr/bin/time -v:
#      local      local files -> local table, 2 workers
#      s3-1       s3://weir-bench/raw -> s3://weir-bench/lake, 1 worker
#      s3-2       the same with 2 workers
#      s3-2p      the same with 2 `weir worker` processes of 1 thread each, sharing the store
#                 (`weir submit`, then both with --until-done; the time includes the submit)
# 4. Prints wall times, the S3/local ratio, peak RSS, and the requests per input object that
#    weir itself counted (`s3_requests` of `weir run --json`: GET, PUT, POST, HEAD, LIST).
# Exit status: 0 when every run worked and the tables hold the same number of rows, 1 otherwise,
# 2 on a setup error.
#
# s3rver is a Node process on the same machine and disk: the ratio is an upper bound on what S3
# costs weir here, not a measurement of AWS.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/bench/out/s3_lake"
count=${S3_COUNT:-1000000}
files=${S3_FILES:-200}
die() { echo "bench/s3_lake: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: bench/s3_lake/run.sh WEIR_BINARY"
weir=$(realpath -m "$1")
[ -x "$weir" ] || die "cannot run '$weir'"
s3rver="$repo/scripts/s3rver.js"  # s3rver, read-after-write consistent (see the file)
[ -d "$repo/third_party/node/node_modules/s3rver" ] || die "s3rver is missing (run scripts/install-deps.sh)"
/usr/bin/python3 -c 'import boto3' 2>/dev/null || die "python3-boto3 is missing (run scripts/install-deps.sh)"

rm -rf "$out" && mkdir -p "$out"
"$weir" gen events --count "$count" --files "$files" --seed 20261203 --out "$out/data" >/dev/null \
  || die "generation failed"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
node --openssl-legacy-provider "$s3rver" -d "$out/s3" -a 127.0.0.1 -p "$port" --silent \
  --configure-bucket weir-bench >"$out/s3rver.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 100); do
  curl -s "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
  sleep 0.1
done
/usr/bin/python3 - "$port" "$out/data" <<'PY' || die "upload failed"
import boto3, os, sys
from concurrent.futures import ThreadPoolExecutor
s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:' + sys.argv[1], aws_access_key_id='S3RVER',
                  aws_secret_access_key='S3RVER', region_name='us-east-1')
names = [n for n in sorted(os.listdir(sys.argv[2])) if n.endswith('.jsonl')]
with ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda n: s3.upload_file(os.path.join(sys.argv[2], n), 'weir-bench', 'raw/' + n), names))
PY

write_yaml() {  # $1 file, $2 input location, $3 lake location, $4 errors location, $5 workers
  # Each run has its own store: the three are one dataset written to three places.
  cat >"$1" <<YAML
name: s3-lake-bench
store: .weir-$(basename "$1" .yaml)
read:
  connector: files
  location: $2
  manifest: data/manifest.txt
  parser: jsonl
write:
  connector: lake
  location: $3
  table: events
  format: parquet
  partition_by: [event_type, dt]
  roll_bytes: 256MiB
  columns:
    id:         {path: /data/id, type: string, required: true}
    event_type: {path: /data/type, type: string, required: true}
    created_at: {path: /meta/created_at, type: timestamp_ms, required: true}
    user_id:    {path: /data/attributes/user_id, type: string}
    attributes: {path: /data/attributes, type: json}
    dt:         {date_of: created_at}
errors:
  location: $4
compute:
  workers: $5
  checkpoint_seconds: 60
storage:
  endpoint: http://127.0.0.1:$port
YAML
}
write_yaml "$out/local.yaml" data lake errors 2
write_yaml "$out/s3-1.yaml" s3://weir-bench/raw s3://weir-bench/lake1 s3://weir-bench/errors1 1
write_yaml "$out/s3-2.yaml" s3://weir-bench/raw s3://weir-bench/lake2 s3://weir-bench/errors2 2
write_yaml "$out/s3-2p.yaml" s3://weir-bench/raw s3://weir-bench/lake3 s3://weir-bench/errors3 1
cat "$out"/data/*.jsonl >/dev/null
status=0
run() {  # $1 name
  local t0 t1
  t0=$(date +%s%N)
  if ! AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER /usr/bin/time -v -o "$out/$1.time" \
       "$weir" run --restart --no-progress --json "$out/$1.yaml" >"$out/$1.json" 2>"$out/$1.err"; then
    echo "bench/s3_lake: the $1 run failed:"; tail -5 "$out/$1.err"; status=1
  fi
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 )) >"$out/$1.ms"
}
run_processes() {  # $1 name: submit, then two worker processes until the dataset is done
  local t0 t1 store="$out/.weir-$1/store.db"
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
  t0=$(date +%s%N)
  "$weir" submit "$out/$1.yaml" >"$out/$1.submit" 2>&1 || { echo "bench/s3_lake: submit failed"; status=1; }
  /usr/bin/time -v -o "$out/$1-a.time" "$weir" worker --store "$store" --until-done --threads 1 \
    --json >"$out/$1-a.json" 2>"$out/$1-a.err" &
  local a=$!
  /usr/bin/time -v -o "$out/$1-b.time" "$weir" worker --store "$store" --until-done --threads 1 \
    --json >"$out/$1-b.json" 2>"$out/$1-b.err" &
  local b=$!
  wait $a || { echo "bench/s3_lake: worker a failed"; status=1; }
  wait $b || { echo "bench/s3_lake: worker b failed"; status=1; }
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 )) >"$out/$1.ms"
  # The run's result as `weir run --json` would give it: the task table's totals.
  "$weir" tasks "$out/$1.yaml" --json | /usr/bin/python3 -c '
import json, sys
tasks = json.load(sys.stdin)
print(json.dumps({"totals": {"written": sum(t["written"] for t in tasks)},
                  "tasks_by_worker": {w: sum(1 for t in tasks if (t.get("lease") or {}).get("owner") == w)
                                      for w in sorted({(t.get("lease") or {}).get("owner") for t in tasks})}}))
' >"$out/$1.json"
  cp "$out/$1-a.time" "$out/$1.time"
}
run local
run s3-1
run s3-2
run_processes s3-2p
objects=$(ls "$out"/data/*.jsonl | wc -l)
mb=$(du -cm "$out"/data/*.jsonl | tail -1 | cut -f1)
/usr/bin/python3 - "$out" "$objects" "$mb" "$count" <<'PY' | tee "$out/result.txt" || status=1
import json, re, sys
out, objects, mb, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(f"input: {count} events, {objects} objects, {mb} MB")
ms = {n: int(open(f"{out}/{n}.ms").read()) for n in ("local", "s3-1", "s3-2", "s3-2p")}
ok = True
written = {}
for n in ms:
    try:
        j = json.load(open(f"{out}/{n}.json"))
    except Exception:
        print(f"{n}: no JSON result"); ok = False; continue
    written[n] = j["totals"]["written"]
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{out}/{n}.time").read())
    line = (f"{n:6} {ms[n] / 1000:7.2f} s {mb * 1000 / ms[n]:7.1f} MB/s  rows {written[n]}"
            f"  peak RSS {int(rss.group(1)) // 1024 if rss else '?'} MB")
    r = j.get("s3_requests")
    if r:
        line += ("  per object: " + ", ".join(f"{r[k] / objects:.1f} {k.upper()}"
                                              for k in ("get", "put", "post", "head", "list"))
                 + f"; {r['retries']} retries")
    if "tasks_by_worker" in j:
        line += "  tasks per worker process: " + ", ".join(str(v) for v in j["tasks_by_worker"].values())
    print(line)
if len(set(written.values())) != 1:
    print(f"rows differ between runs: {written}"); ok = False
for n in ("s3-1", "s3-2", "s3-2p"):
    print(f"{n}/local time: {ms[n] / ms['local']:.2f}x")
print(f"s3 2 worker threads vs 1: {ms['s3-1'] / ms['s3-2']:.2f}x faster")
print(f"s3 2 worker processes vs 1 thread: {ms['s3-1'] / ms['s3-2p']:.2f}x faster")
sys.exit(0 if ok else 1)
PY
exit $status
