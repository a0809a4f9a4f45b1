#!/usr/bin/env bash
# The node pool on the real scheduler, measured (tests/e2e/test_scale_measurements.py on a
# control plane of its own): BALLAST_SCALE_TRIALS (default 50) trials of pending pod →
# provider create request, then the 200-node / 3,000-pod kwok cluster with 500 pending pods.
# Prints the date, the load average and the machine's latency floor (bench/wakeup_jitter)
# before and after, to read the latencies against. Not part of `make test`.
# Usage: bench/scale_scheduler.sh [BUILD]   (default build; needs `make bench` for the floor)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-build}"
jitter="$root/$build/bench/wakeup_jitter"
[ -x "$jitter" ] || { echo "scale_scheduler: no $jitter (make bench BUILD=$build)" >&2; exit 1; }

machine() {
  echo "== $(date -u +%FT%TZ) $1: load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
  "$jitter" --rounds 10000
}

machine before
cd "$root"
BUILD="$build" BALLAST_SCALE_TRIALS="${BALLAST_SCALE_TRIALS:-50}" BALLAST_SCALE_BENCH=1 \
  scripts/e2e.sh -s -k "test_pending_pod_to_provider_create_request or test_200_nodes_3000_pods_500_pending"
machine after
