#!/usr/bin/env bash
# Runs the scaler benchmarks against a real `ballast serve` on loopback and prints the
# lines that go into bench/RESULTS.md. Usage: bench/run_scaler_bench.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
ballast=$build/src/app/ballast
driver=$build/bench/scaler_bench
[ -x "$ballast" ] && [ -x "$driver" ] || { echo "run 'make bench' first" >&2; exit 1; }

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
echo bench-token > "$work/tokens"
"$ballast" serve --grpc-address 127.0.0.1:19090 --sessions-address 127.0.0.1:19091 \
  --admin-address 127.0.0.1:19102 --sessions-token-file "$work/tokens" --log-level warn &
pid=$!
for _ in $(seq 100); do
  curl -sf http://127.0.0.1:19102/readyz >/dev/null 2>&1 && break
  sleep 0.1
done
sleep 2
echo "idle RSS (scaler + sessions): $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"

"$driver" --mode edge --grpc 127.0.0.1:19090 --sessions-port 19091 --token bench-token --edges 500
"$driver" --mode getmetrics --grpc 127.0.0.1:19090 --sessions-port 19091 --token bench-token \
  --scaledobjects 200 --threads "${THREADS:-4}" --seconds "${SECONDS_PER_RUN:-10}"
echo "RSS after load: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
