#!/usr/bin/env bash
# Runs every libFuzzer target for FUZZ_SECONDS (default 30) each, or until FUZZ_RUNS
# executions when that comes first (long runs), from the seed corpus in
# fuzz/corpus/<target>/ (read-only; new inputs go to $FUZZ_BUILD/corpus/<target>/) with the
# dictionary fuzz/dict/<target>.dict when there is one, and prints executions, speed,
# coverage, corpus size and wall time per target. Crashes, leaks and timeouts are written
# to $FUZZ_BUILD/artifacts/ and fail the run. Usage: fuzz/run.sh [TARGET...] (default: all).
# Reproduce one: $FUZZ_BUILD/fuzz/fuzz_<target> $FUZZ_BUILD/artifacts/<file>.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-30}"
runs="${FUZZ_RUNS:--1}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for seeds in "$root"/fuzz/corpus/*/; do targets+=("$(basename "$seeds")"); done
fi

# A long run records no allocation stacks: ASan keeps every distinct one for the process's
# life, and a recursive parser makes new ones with each nesting (kubeconfig grew 1 MB per
# 1,000 executions, flat at 481 MB without them; the parser alone stays flat at 7.5 MB over
# 115,000 parses). Run a saved input again with the stacks to read a failure.
if [ "$runs" != -1 ]; then export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0}"; fi

mkdir -p "$build/artifacts"
failed=()
printf '%-18s %12s %10s %8s %8s %8s %s\n' target execs exec/s cov corpus seconds result
for target in "${targets[@]}"; do
  work="$build/corpus/$target"
  mkdir -p "$work"
  log="$build/fuzz-$target.log"
  options=()
  [ -f "$root/fuzz/dict/$target.dict" ] && options+=("-dict=$root/fuzz/dict/$target.dict")
  started=$SECONDS
  # -rss_limit_mb: the parsers must stay far below it; -timeout: one input may not take 10 s.
  "$build/fuzz/fuzz_$target" "$work" "$root/fuzz/corpus/$target" -max_total_time="$seconds" -runs="$runs" \
    -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$target-" "${options[@]}" >"$log" 2>&1
  status=$?
  elapsed=$((SECONDS - started))
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
  result=ok
  if [ "$status" -ne 0 ]; then
    result="FAILED (exit $status, see $log)"
    failed+=("$target")
  fi
  corpus="$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
  printf '%-18s %12s %10s %8s %8s %8s %s\n' "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${corpus:-?}" "$elapsed" "$result"
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: failed: ${failed[*]} (inputs in $build/artifacts/)" >&2
  exit 1
fi
