#!/usr/bin/env bash
# Broker requests per second that wakeOnProduce adds (issue 22): one real Kafka broker
# (scripts/e2e-kafka.sh, with its opt-in JMX port), read with Kafka's own JmxTool over a
# window without ballast, then over the same window with ballast watching N idle topics
# (N triggers, each with a StreamIsActive stream held open by `ballast probe --watch`).
#
#   bench/wake_broker_load.sh             # 50 topics, 60 s windows
#   BALLAST_BENCH_TOPICS=10 BALLAST_BENCH_WINDOW=30 bench/wake_broker_load.sh
#   BALLAST_BENCH_WAKE=false bench/wake_broker_load.sh   # the same triggers, polling only
#
# Needs the ballast binary (BALLAST_BIN, default build/src/app/ballast), java, kcat.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
topics="${BALLAST_BENCH_TOPICS:-50}"
window="${BALLAST_BENCH_WINDOW:-60}"
wake="${BALLAST_BENCH_WAKE:-true}"
[ "$wake" = true ] || [ "$wake" = false ] || { echo "wake_broker_load: BALLAST_BENCH_WAKE must be true or false" >&2; exit 1; }
ballast="${BALLAST_BIN:-$root/build/src/app/ballast}"
[ -x "$ballast" ] || { echo "wake_broker_load: $ballast is missing: make build first" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

work="$(mktemp -d /tmp/ballast-wake-load.XXXXXX)"
export BALLAST_E2E_DIR="$work" BALLAST_KAFKA_JMX_PORT
BALLAST_KAFKA_JMX_PORT="$(free_port)"
pids=()
cleanup() {
  for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  "$root/scripts/e2e-kafka.sh" down || true
  rm -rf "$work"
}
trap cleanup EXIT
eval "$("$root/scripts/e2e-kafka.sh" up)"

requests=(Fetch Metadata ListOffsets OffsetFetch)
# counts: "<request> <Count>" per request type, summed over the metric's API versions.
counts() {
  local names=()
  for request in "${requests[@]}"; do
    names+=(--object-name "kafka.network:type=RequestMetrics,name=RequestsPerSec,request=$request,*")
  done
  java -Xmx128m -XX:TieredStopAtLevel=1 -cp "$KAFKA_LIB/*" org.apache.kafka.tools.JmxTool \
    --jmx-url "service:jmx:rmi:///jndi/rmi://127.0.0.1:$BALLAST_KAFKA_JMX_PORT/jmxrmi" "${names[@]}" \
    --attributes Count --one-time true --report-format properties 2>/dev/null |
    sed -n 's/.*request=\([A-Za-z]*\),.*:Count=\([0-9]*\)$/\1 \2/p' |
    awk -v all="${requests[*]}" '{ sum[$1] += $2 } END { n = split(all, r, " "); for (i = 1; i <= n; i++) print r[i], sum[r[i]] + 0 }'
}
# measure LABEL: requests/s of each type over the window.
measure() {
  local before after
  before="$(counts)"
  sleep "$window"
  after="$(counts)"
  join <(echo "$before" | sort) <(echo "$after" | sort) |
    awk -v label="$1" -v window="$window" '{ printf "%s %s/s: %.2f\n", label, $1, ($3 - $2) / window }'
}

# Idle topics: one record each (the producer creates the topic), then nothing.
for i in $(seq 1 "$topics"); do echo "seed" | kcat -P -b "$KAFKA_BOOTSTRAP" -t "idle-$i" -X acks=all; done

measure "without ballast"

admin="127.0.0.1:$(free_port)" grpc="127.0.0.1:$(free_port)"
: >"$work/ballast.yaml"
"$ballast" serve --config "$work/ballast.yaml" --components scaler --grpc-address "$grpc" --admin-address "$admin" \
  >"$work/ballast.log" 2>&1 &
pids+=($!)
until curl -sf "http://$admin/readyz" >/dev/null; do sleep 0.2; done
# Uncommitted group, one record: lag 1 under the activation threshold, so every stream
# waits for activation and its topic is watched.
for i in $(seq 1 "$topics"); do
  "$ballast" probe --output json --scaler "$grpc" --namespace bench --name "idle-$i" --watch \
    --metadata source=kafka --metadata bootstrapServers="$KAFKA_BOOTSTRAP" --metadata consumerGroup="idle-$i" \
    --metadata topic="idle-$i" --metadata activationLagThreshold=10 --metadata wakeOnProduce="$wake" >"$work/probe-$i.log" 2>&1 &
  pids+=($!)
done
# 0 until a watcher exists (the gauge is registered with the first).
watched() { curl -sf "http://$admin/metrics" | awk '$1 == "ballast_kafka_watched_partitions" { n = $2 } END { print n + 0 }'; }
want=0
[ "$wake" = false ] || want="$topics"
for _ in $(seq 1 120); do [ "$(watched)" = "$want" ] && break; sleep 0.5; done
[ "$(watched)" = "$want" ] || { echo "wake_broker_load: watched partitions $(watched), want $want" >&2; tail "$work/ballast.log" >&2; exit 1; }
sleep 5  # every stream open and polled once
echo "watched partitions: $(watched)"

measure "with ballast ($topics idle triggers, wakeOnProduce=$wake)"
curl -sf "http://$admin/metrics" | grep -E '^ballast_kafka_(watchers|watched_partitions|wakes_total) ' || true
