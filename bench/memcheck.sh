#!/usr/bin/env bash
# valgrind memcheck over integration test binaries (issue 16), run by hand: each binary in-process
# under memcheck (children such as a spawned `ballast serve` are not traced), with a time limit.
# Reports per binary: Catch2's verdict, memcheck's error count and the definitely/indirectly lost
# bytes. A test that only fails by its own timing (memcheck is 20-50x slower) shows as a Catch2
# failure with 0 memcheck errors; read its log.
# Usage: bench/memcheck.sh [build-dir] [binary...]   (default: the in-process suites below)
# Environment: MEMCHECK_TIMEOUT (seconds per binary, default 900), MEMCHECK_OUT (log directory).
set -uo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
shift || true
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=(integration_admission integration_sessions integration_scaler integration_fake_apiserver
                                       integration_guard integration_providers integration_nodepool integration_prom)
command -v valgrind >/dev/null || { echo "memcheck: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
out=${MEMCHECK_OUT:-$(mktemp -d /tmp/ballast-memcheck.XXXXXX)}
mkdir -p "$out"
echo "memcheck: logs in $out"
printf '%-28s %-10s %8s %14s %14s %8s\n' binary catch2 errors definitely_lost indirectly_lost seconds
status=0
for name in "${binaries[@]}"; do
  binary=$build/tests/$name
  [ -x "$binary" ] || { echo "memcheck: $binary is missing (make build)" >&2; status=1; continue; }
  start=$(date +%s)
  # Run from the binary's directory, as ctest does (fixtures are found relative to it).
  (cd "$build/tests" && timeout "${MEMCHECK_TIMEOUT:-900}" valgrind --tool=memcheck --leak-check=full \
      --errors-for-leak-kinds=definite --error-exitcode=99 --log-file="$out/$name.memcheck" \
      "$binary" >"$out/$name.out" 2>&1)
  code=$?
  seconds=$(( $(date +%s) - start ))
  errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$out/$name.memcheck" | tail -1)
  definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$out/$name.memcheck" | tail -1)
  indirect=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$out/$name.memcheck" | tail -1)
  case $code in
    0) verdict=passed ;;
    99) verdict=memcheck ;;
    124) verdict=timeout ;;
    *) verdict="failed($code)" ;;
  esac
  grep -q 'All tests passed' "$out/$name.out" || [ "$verdict" != passed ] || verdict="?"
  printf '%-28s %-10s %8s %14s %14s %8s\n' "$name" "$verdict" "${errors:-?}" "${definite:-0}" "${indirect:-0}" "$seconds"
  [ "$code" -eq 0 ] || status=1
done
exit $status
