#!/usr/bin/env bash
# The e2e suite: brings the real control plane up (scripts/e2e-cluster.sh), runs the pytest
# scenarios in tests/e2e against it with the ballast binary of BUILD (default build/), and
# brings it down again, also on failure. Extra arguments go to pytest (e.g. -k guard).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export BALLAST_E2E_DIR="${BALLAST_E2E_DIR:-$(mktemp -d /tmp/ballast-e2e.XXXXXX)}"
export BALLAST_BIN="${BALLAST_BIN:-$root/${BUILD:-build}/src/app/ballast}"
[ -x "$BALLAST_BIN" ] || { echo "e2e: no ballast binary at $BALLAST_BIN (make build)" >&2; exit 1; }

trap 'scripts/e2e-cluster.sh down' EXIT
scripts/e2e-cluster.sh up
eval "$(scripts/e2e-cluster.sh env)"
started=$SECONDS
status=0
python=""
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import pytest' 2>/dev/null; then python="$candidate"; break; fi
done
[ -n "$python" ] || { echo "e2e: pytest is needed (Debian package python3-pytest)" >&2; exit 1; }
"$python" -m pytest tests/e2e -p no:cacheprovider -rfE --durations=10 "$@" || status=$?
echo "e2e: suite ran in $((SECONDS - started)) s" >&2
if [ $status -ne 0 ]; then
  echo "e2e: component logs are in $BALLAST_E2E_DIR/log (kept)" >&2
  cp -r "$BALLAST_E2E_DIR/log" "${BALLAST_E2E_DIR}-logs" 2>/dev/null || true
fi
exit $status
