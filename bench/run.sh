#!/usr/bin/env bash
# Runs weir's benchmarks: bench/run.sh WEIR_BINARY [BENCHMARK...] (default: all).
# Results go to bench/out/<benchmark>/result.json. See bench/README.md.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: bench/run.sh WEIR_BINARY [ingest ...]" >&2; exit 2; }
weir=$1
shift
benchmarks=("$@")
[ ${#benchmarks[@]} -gt 0 ] || benchmarks=(ingest geo regex compact collector kafka rules)
status=0
for b in "${benchmarks[@]}"; do
  [ -x "$here/$b/run.sh" ] || { echo "bench: unknown benchmark '$b'" >&2; status=2; continue; }
  echo "==== bench $b"
  "$here/$b/run.sh" "$weir" || { rc=$?; echo "bench: $b exited with $rc" >&2; status=1; }
done
exit $status
