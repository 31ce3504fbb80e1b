#!/usr/bin/env bash
# Builds and runs weir's libFuzzer targets (fuzz/*_fuzz.cc) in a separate clang build dir.
#
#   fuzz.sh build BUILD_DIR                 configure (once) + build every target, one ninja call
#   fuzz.sh run   BUILD_DIR TARGET SECONDS  fuzz TARGET for SECONDS with its corpus
#   fuzz.sh all   BUILD_DIR SECONDS         build, then run every target (what `make fuzz` does)
#   fuzz.sh skip  MESSAGE                   print why the fuzz tests cannot run, exit 77 (ctest skip)
#
# Environment: WEIR_FUZZ_CC / WEIR_FUZZ_CXX (default clang / clang++), DUCKDB_ROOT (passed to the
# configure of the whole project), WEIR_FUZZ_ARGS (extra libFuzzer flags, e.g. -jobs=2).
# A run fails (non-zero exit) on any crash, sanitizer report, leak, timeout (>10 s for one input)
# or RSS above 2 GiB. Inputs found while fuzzing go to BUILD_DIR/fuzz-work/corpus/TARGET (the
# seed corpus fuzz/corpus/TARGET is only read); crashing inputs to BUILD_DIR/fuzz-work/artifacts/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/.." && pwd)"

targets() {
  local f
  for f in "$src"/fuzz/*_fuzz.cc; do basename "$f" .cc; done
}

build() {
  local dir="$1"
  local cc="${WEIR_FUZZ_CC:-clang}" cxx="${WEIR_FUZZ_CXX:-clang++}"
  if [[ ! -f "$dir/build.ninja" ]]; then
    local extra=()
    [[ -n "${DUCKDB_ROOT:-}" ]] && extra+=("-DDUCKDB_ROOT=$DUCKDB_ROOT")
    echo "fuzz: configuring $dir (CC=$cc CXX=$cxx, WEIR_FUZZ=ON)"
    mkdir -p "$dir"
    local t0=$SECONDS
    CC="$cc" CXX="$cxx" cmake -S "$src" -B "$dir" -G Ninja -DWEIR_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=Debug "${extra[@]}" >"$dir/fuzz-configure.log" 2>&1 || {
      cat "$dir/fuzz-configure.log"; echo "fuzz: configure failed" >&2; exit 1; }
    echo "fuzz: configured in $((SECONDS - t0)) s"
  fi
  local t0=$SECONDS
  cmake --build "$dir" --target weir_fuzzers
  echo "fuzz: built $(targets | wc -l) targets in $((SECONDS - t0)) s"
}

run() {
  local dir="$1" t="$2" secs="$3"
  local exe="$dir/fuzz/$t"
  [[ -x "$exe" ]] || { echo "fuzz: $exe is not built (fuzz.sh build $dir)" >&2; exit 1; }
  local work="$dir/fuzz-work/corpus/$t" art="$dir/fuzz-work/artifacts/$t/"
  mkdir -p "$work" "$art" "$src/fuzz/corpus/$t"
  local args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
              -artifact_prefix="$art")
  [[ -f "$src/fuzz/$t.dict" ]] && args+=(-dict="$src/fuzz/$t.dict")
  # shellcheck disable=SC2206
  args+=(${WEIR_FUZZ_ARGS:-})
  echo "fuzz: $t for ${secs}s: $exe ${args[*]} $work $src/fuzz/corpus/$t"
  local log="$dir/fuzz-work/$t.log" rc=0
  "$exe" "${args[@]}" "$work" "$src/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    tail -n 80 "$log"
    echo "fuzz: $t FAILED (exit $rc); crashing input under $art, full log $log" >&2
    return "$rc"
  fi
  local execs per_sec
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  per_sec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  echo "fuzz: $t ok: ${execs:-?} executions, ${per_sec:-?} exec/s, corpus $(ls "$work" | wc -l) new inputs"
}

case "${1:-}" in
  build) build "$2" ;;
  run) run "$2" "$3" "$4" ;;
  all)
    build "$2"
    failed=()
    for t in $(targets); do run "$2" "$t" "$3" || failed+=("$t"); done
    if (( ${#failed[@]} )); then echo "fuzz: FAILED: ${failed[*]}" >&2; exit 1; fi
    echo "fuzz: all targets ok" ;;
  skip) echo "SKIPPED: $2"; exit 77 ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
