#!/usr/bin/env bash
# valgrind memcheck over integration test binaries (issue 16), run by hand: each binary in-process
# under memcheck, and every program it starts too (`ballast serve`, `ballast probe`, the shells
# and `timeout` around them; Debian's prometheus, a Go program, runs natively), each with its own
# log, with a time limit per binary.
# Reports per binary: Catch2's verdict, memcheck's error count and the definitely/indirectly lost
# bytes of the test process, then the same summed over its children (`children` counts the
# child processes traced, `unfinished` those that ended without memcheck's summary: killed by
# SIGKILL or the time limit). A test that only fails by its own timing (memcheck is 20-50x
# slower) shows as a Catch2 failure with 0 memcheck errors; read its log.
# Usage: bench/memcheck.sh [build-dir] [binary...]   (default: every integration suite)
# Environment: MEMCHECK_TIMEOUT (seconds per binary, default 900), MEMCHECK_OUT (log directory).
set -uo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
shift || true
binaries=("$@")
if [ ${#binaries[@]} -eq 0 ]; then
  for source in tests/integration/*_test.cc; do
    name=${source##*/}
    binaries+=("integration_${name%_test.cc}")
  done
fi
command -v valgrind >/dev/null || { echo "memcheck: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
out=${MEMCHECK_OUT:-$(mktemp -d /tmp/ballast-memcheck.XXXXXX)}
mkdir -p "$out"
echo "memcheck: logs in $out"
printf '%-28s %-10s %7s %12s %12s | %8s %10s %7s %12s %12s %8s\n' binary catch2 errors def_lost ind_lost \
  children unfinished errors def_lost ind_lost seconds
status=0
# Sums "<label>: N bytes" (or "ERROR SUMMARY: N errors") over the given memcheck logs.
sum_of() {
  local pattern=$1; shift
  [ $# -gt 0 ] || { echo 0; return; }
  sed -n "s/.*$pattern \([0-9,]*\) .*/\1/p" "$@" | tr -d , | awk '{ n += $1 } END { print n + 0 }'
}
for name in "${binaries[@]}"; do
  binary=$build/tests/$name
  [ -x "$binary" ] || { echo "memcheck: $binary is missing (make build)" >&2; status=1; continue; }
  rm -f "$out/$name".*.memcheck
  start=$(date +%s)
  # Run from the binary's directory, as ctest does (fixtures are found relative to it).
  # BALLAST_TEST_SLOWDOWN stretches the tests' wait for a child `serve` to become ready.
  (cd "$build/tests" && BALLAST_TEST_SLOWDOWN=${BALLAST_TEST_SLOWDOWN:-10} timeout "${MEMCHECK_TIMEOUT:-900}" valgrind --tool=memcheck --leak-check=full \
      --errors-for-leak-kinds=definite --error-exitcode=99 \
      --trace-children=yes --trace-children-skip='*/prometheus' \
      --log-file="$out/$name.%p.memcheck" "$binary" >"$out/$name.out" 2>&1)
  code=$?
  seconds=$(( $(date +%s) - start ))
  # Logs named by pid: the test process (the test binary, started by the untraced `timeout`),
  # the programs its children exec'd, and forks that exec'd the untraced prometheus (still
  # named after the test binary, with no summary: not counted).
  own=""
  children=()
  for log in "$out/$name".*.memcheck; do
    command=$(sed -n 's/^==[0-9]*== Command: //p' "$log" | tail -1)
    parent=$(sed -n 's/^==[0-9]*== Parent PID: //p' "$log" | head -1)
    if [ "${command%% *}" != "$binary" ]; then
      children+=("$log")
    elif [ ! -e "$out/$name.$parent.memcheck" ]; then
      own=$log
    fi
  done
  unfinished=0
  for log in "${children[@]}"; do grep -q 'ERROR SUMMARY' "$log" || unfinished=$((unfinished + 1)); done
  case $code in
    0) verdict=passed ;;
    99) verdict=memcheck ;;
    124) verdict=timeout ;;
    *) verdict="failed($code)" ;;
  esac
  grep -q 'All tests passed' "$out/$name.out" || [ "$verdict" != passed ] || verdict="?"
  child_errors=$(sum_of 'ERROR SUMMARY:' "${children[@]}")
  printf '%-28s %-10s %7s %12s %12s | %8s %10s %7s %12s %12s %8s\n' "$name" "$verdict" \
    "$(sum_of 'ERROR SUMMARY:' "${own:-/dev/null}")" "$(sum_of 'definitely lost:' "${own:-/dev/null}")" "$(sum_of 'indirectly lost:' "${own:-/dev/null}")" \
    "${#children[@]}" "$unfinished" "$child_errors" \
    "$(sum_of 'definitely lost:' "${children[@]}")" "$(sum_of 'indirectly lost:' "${children[@]}")" "$seconds"
  [ "$code" -eq 0 ] && [ "$child_errors" -eq 0 ] || status=1
done
exit $status
