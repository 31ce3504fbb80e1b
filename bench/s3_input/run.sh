#!/usr/bin/env bash
# S3 input benchmark: the same files read from local disk and from s3rver on loopback.
#
#   bench/s3_input/run.sh WEIR_BINARY
#
# 1. `weir gen events` writes S3_COUNT events (default 1,000,000) in S3_FILES files (default 8)
#    into bench/out/s3_input/data (seed 20261203).
# 2. s3rver (npm, scripts/install-deps.sh) starts on a free loopback port and boto3 (Debian's
#    python3-boto3) uploads the files to s3://weir-bench/raw/.
# 3. weir loads them twice into a partitioned lake (event_type, dt), 2 workers, one commit:
#    from the local folder and from `s3://weir-bench/raw` (read.location + storage.endpoint).
#    Each run is under /usr/bin/time -v with --restart.
# 4. Prints both wall times, the S3/local ratio, and the requests s3rver logged per object.
# Exit status: 0 when both runs worked, 1 otherwise, 2 on a setup error.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/bench/out/s3_input"
count=${S3_COUNT:-1000000}
files=${S3_FILES:-8}
die() { echo "bench/s3_input: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: bench/s3_input/run.sh WEIR_BINARY"
weir=$(realpath -m "$1")
[ -x "$weir" ] || die "cannot run '$weir'"
s3rver="$repo/scripts/s3rver.js"  # s3rver, read-after-write consistent (see the file)
[ -d "$repo/third_party/node/node_modules/s3rver" ] || die "s3rver is missing (run scripts/install-deps.sh)"
/usr/bin/python3 -c 'import boto3' 2>/dev/null || die "python3-boto3 is missing (run scripts/install-deps.sh)"

rm -rf "$out" && mkdir -p "$out"
"$weir" gen events --count "$count" --files "$files" --seed 20261203 --out "$out/data" >/dev/null \
  || die "generation failed"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Not --silent: its request log is how requests per object are counted.
node --openssl-legacy-provider "$s3rver" -d "$out/s3" -a 127.0.0.1 -p "$port" \
  --configure-bucket weir-bench >"$out/s3rver.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 100); do
  curl -s "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
  sleep 0.1
done
/usr/bin/python3 - "$port" "$out/data" <<'PY' || die "upload failed"
import boto3, os, sys
s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:' + sys.argv[1], aws_access_key_id='S3RVER',
                  aws_secret_access_key='S3RVER', region_name='us-east-1')
for name in sorted(os.listdir(sys.argv[2])):
    if name.endswith('.jsonl'):
        s3.upload_file(os.path.join(sys.argv[2], name), 'weir-bench', 'raw/' + name)
PY

write_yaml() {  # $1 file, $2 location, $3 extra top-level text
  cat >"$1" <<YAML
name: s3-input-bench
read:
  connector: files
  location: $2
  manifest: data/manifest.txt
  parser: jsonl
write:
  connector: lake
  location: lake
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
  location: errors
compute:
  workers: 2
  checkpoint_seconds: 60
$3
YAML
}
write_yaml "$out/local.yaml" data ""
write_yaml "$out/s3.yaml" s3://weir-bench/raw "storage:
  endpoint: http://127.0.0.1:$port"
cat "$out"/data/*.jsonl >/dev/null
status=0
run() {  # $1 name
  local t0 t1
  wc -l <"$out/s3rver.log" >"$out/$1.log-start"
  t0=$(date +%s%N)
  if ! AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER /usr/bin/time -v -o "$out/$1.time" \
       "$weir" run --restart --no-progress --json "$out/$1.yaml" >"$out/$1.json" 2>"$out/$1.err"; then
    echo "bench/s3_input: the $1 run failed:"; tail -5 "$out/$1.err"; status=1
  fi
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 )) >"$out/$1.ms"
}
run local
run s3
objects=$(ls "$out"/data/*.jsonl | wc -l)
start=$(cat "$out/s3.log-start")
# s3rver logs "<bucket/key> <status> <ms> <size>": weir's GETs are ranged (206); a 200 on an
# object key without a query is a HEAD (uploads carry ?uploads / ?uploadId and run before).
gets=$(tail -n +"$((start + 1))" "$out/s3rver.log" | grep -c '\.jsonl 206 ')
heads=$(tail -n +"$((start + 1))" "$out/s3rver.log" | grep -c '\.jsonl 200 ')
mb=$(du -cm "$out"/data/*.jsonl | tail -1 | cut -f1)
local_ms=$(cat "$out/local.ms"); s3_ms=$(cat "$out/s3.ms")
rss() { grep 'Maximum resident' "$out/$1.time" | awk '{print $NF}'; }
printf 'input: %s events, %s objects, %s MB\n' "$count" "$objects" "$mb"
awk -v l="$local_ms" -v s="$s3_ms" -v mb="$mb" -v g="$gets" -v h="$heads" -v o="$objects" \
    -v lr="$(rss local)" -v sr="$(rss s3)" 'BEGIN {
  printf "local  %6.2f s  %7.1f MB/s  peak RSS %s KB\n", l / 1000, mb * 1000 / l, lr
  printf "s3     %6.2f s  %7.1f MB/s  peak RSS %s KB\n", s / 1000, mb * 1000 / s, sr
  printf "s3/local time: %.2fx; requests per object: %.1f GET, %.1f HEAD\n", s / l, g / o, h / o
}' | tee "$out/result.txt"
exit $status
