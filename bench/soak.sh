#!/usr/bin/env bash
# The soak of issue 16, run by hand (not in `make test`): one `ballast serve` (every
# component) under all of its loads at once for SOAK_SECONDS (default 600):
#   - PUBLISHERS (5000) WebSocket session publishers, each changing its count once a second
#     (scaler_bench --mode publishers);
#   - GETMETRICS_RATE (20000) GetMetrics/s over 200 ScaledObjects (scaler_bench --rate);
#   - webhook reviews over TLS from wrk, REVIEW_CONNECTIONS (8) keep-alive connections each
#     pausing REVIEW_DELAY_MS (3) ms between reviews: at most ~2,000/s (admission_bench --target);
#   - watch streams of NODES (1000) nodes and PODS (30000) pods with CHURN (100) pod replacements
#     + as many readiness flips + a tenth as many node heartbeats a second (bench/soak_cluster.h),
#     from the apiserver SOAK_APISERVER names:
#       fake (the default, as the first soak ran): tests/fakes' apiserver in soak_apiserver;
#       real: etcd + kube-apiserver from the e2e cache (scripts/e2e-cluster.sh up apiserver, no
#       scheduler, controller manager or kwok), filled and churned over HTTPS by soak_churn with
#       CHURN_CLIENTS (4) keep-alive clients × 4 threads; it reports the rates the apiserver took.
# The load generators run under `nice -n 10`; ballast, etcd and kube-apiserver at normal priority.
# Every 10 s it samples ballast's RSS, descriptors, threads, CPU (process and the busiest threads,
# from /proc), the real apiserver's and etcd's CPU, and the load average into samples.tsv; at the
# end it prints each driver's report (errors, rates, p99), ballast's CPU per component over the
# timed loads (its threads' names, core/thread_name.h, summed by the part before the first '-'),
# ballast's error counters from /metrics and its warn/error log lines.
# Usage: bench/soak.sh [build-dir]   (after `make bench`); results in $SOAK_OUT (default a new
# directory under /tmp, printed).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
ballast=$build/src/app/ballast
apiserver_mode=${SOAK_APISERVER:-fake}
case "$apiserver_mode" in
  fake) churn_tool=$build/bench/soak_apiserver ;;
  real) churn_tool=$build/bench/soak_churn ;;
  *) echo "soak: SOAK_APISERVER is fake or real, not '$apiserver_mode'" >&2; exit 2 ;;
esac
for tool in "$ballast" "$build/bench/scaler_bench" "$build/bench/admission_bench" "$churn_tool"; do
  [ -x "$tool" ] || { echo "soak: $tool is missing; run 'make bench' first" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "soak: wrk is missing (apt-get install wrk)" >&2; exit 1; }

seconds=${SOAK_SECONDS:-600}
publishers=${PUBLISHERS:-5000}
getmetrics_rate=${GETMETRICS_RATE:-20000}
review_connections=${REVIEW_CONNECTIONS:-8}
review_delay_ms=${REVIEW_DELAY_MS:-3}
nodes=${NODES:-1000}
pods=${PODS:-30000}
churn=${CHURN:-100}
out=${SOAK_OUT:-$(mktemp -d /tmp/ballast-soak.XXXXXX)}
mkdir -p "$out"
echo "soak: results in $out"

pids=()
control_plane=()  # kube-apiserver and etcd PIDs (real mode), sampled beside ballast
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$apiserver_mode" = real ] && [ -d "$BALLAST_E2E_DIR" ]; then
    cp -r "$BALLAST_E2E_DIR/log" "$out/cluster-log" 2>/dev/null || true
    scripts/e2e-cluster.sh down 2>/dev/null || true
  fi
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
grpc_port=$(port) sessions_port=$(port) webhook_port=$(port) admin_port=$(port)

echo soak-token >"$out/tokens"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$out/tls.key" -out "$out/tls.crt" 2>/dev/null

if [ "$apiserver_mode" = fake ]; then
  kubeconfig=$out/kubeconfig
  nice -n 10 "$churn_tool" --kubeconfig "$kubeconfig" --nodes "$nodes" --pods "$pods" \
    --churn "$churn" --seconds $((seconds + 120)) >"$out/apiserver.txt" 2>&1 &
else
  export BALLAST_E2E_DIR=$out/cluster
  scripts/e2e-cluster.sh up apiserver 2>&1 | tee "$out/cluster-up.txt"
  kubeconfig=$BALLAST_E2E_DIR/admin.kubeconfig
  control_plane=("$(cat "$BALLAST_E2E_DIR/pid/kube-apiserver")" "$(cat "$BALLAST_E2E_DIR/pid/etcd")")
  # What ballast reads besides the churn: its namespace (Leases, Events) and the NodeGroup CRD.
  api() {
    curl -sf --cacert "$BALLAST_E2E_DIR/pki/ca.crt" --cert "$BALLAST_E2E_DIR/pki/admin.crt" \
      --key "$BALLAST_E2E_DIR/pki/admin.key" "https://127.0.0.1:$(cat "$BALLAST_E2E_DIR/apiserver.port")$1" "${@:2}"
  }
  api /api/v1/namespaces -X POST -H 'Content-Type: application/json' \
    -d '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ballast-system"}}' >/dev/null
  api /apis/apiextensions.k8s.io/v1/customresourcedefinitions -X POST -H 'Content-Type: application/yaml' \
    --data-binary @manifests/crds/nodegroups.ballast.dev.yaml >/dev/null
  echo "soak: filling the apiserver with $nodes nodes and $pods pods"
  nice -n 10 "$churn_tool" --kubeconfig "$kubeconfig" --nodes "$nodes" --pods "$pods" --churn "$churn" \
    --clients "${CHURN_CLIENTS:-4}" --seconds $((seconds + 120)) >"$out/apiserver.txt" 2>&1 &
fi
pids+=($!)
apiserver_pid=$!
until grep -qs '^ready' "$out/apiserver.txt"; do
  kill -0 "$apiserver_pid" 2>/dev/null || { cat "$out/apiserver.txt" >&2; exit 1; }
  sleep 1
done
echo "soak: $(head -1 "$out/apiserver.txt")"

"$ballast" serve --kubeconfig "$kubeconfig" --namespace ballast-system \
  --components scaler,sessions,admission,guard,nodepool \
  --grpc-address "127.0.0.1:$grpc_port" --sessions-address "127.0.0.1:$sessions_port" \
  --sessions-token-file "$out/tokens" --webhook-address "127.0.0.1:$webhook_port" \
  --tls-cert-file "$out/tls.crt" --tls-key-file "$out/tls.key" --admin-address "127.0.0.1:$admin_port" \
  --log-level warn >"$out/ballast.log" 2>&1 &
pids+=($!)
ballast_pid=$!
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break
  kill -0 "$ballast_pid" 2>/dev/null || { cat "$out/ballast.log" >&2; exit 1; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null || { echo "soak: ballast never became ready" >&2; exit 1; }
curl -s "http://127.0.0.1:$admin_port/metrics" >"$out/metrics-start.txt"

# The publishers connect first (thousands of upgrades take a while); the timed loads start together.
nice -n 10 "$build/bench/scaler_bench" --mode publishers --sessions-port "$sessions_port" --token soak-token \
  --publishers "$publishers" --processes 4 --seconds $((seconds + 10)) >"$out/publishers.txt" 2>&1 &
pids+=($!)
until grep -qs 'connected=.* of' "$out/publishers.txt"; do
  kill -0 "${pids[2]}" 2>/dev/null || { cat "$out/publishers.txt" >&2; exit 1; }
  sleep 1
done
echo "soak: $(head -1 "$out/publishers.txt")"
nice -n 10 "$build/bench/scaler_bench" --mode getmetrics --grpc "127.0.0.1:$grpc_port" \
  --sessions-port "$sessions_port" --token soak-token --scaledobjects 200 --threads "${GETMETRICS_THREADS:-8}" \
  --rate "$getmetrics_rate" --seconds "$seconds" >"$out/getmetrics.txt" 2>&1 &
pids+=($!)
nice -n 10 "$build/bench/admission_bench" --target "$webhook_port" --connections "$review_connections" \
  --delay-ms "$review_delay_ms" --threads 1 --seconds "$seconds" >"$out/reviews.txt" 2>&1 &
pids+=($!)

# Samples: process totals, then the five busiest threads of the last 10 s (tid:name:percent),
# then the real control plane's CPU (kube-apiserver/etcd).
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$1" 2>/dev/null || echo 0; }
# thread_ticks: "tid name ticks" for each of ballast's threads.
thread_ticks() {
  local task
  for task in /proc/"$ballast_pid"/task/*; do
    printf '%s %s %s\n' "${task##*/}" "$(tr ' ' _ <"$task/comm" 2>/dev/null)" "$(cpu_ticks "$task/stat")"
  done
}
declare -A last_thread last_pid
for pid in "$ballast_pid" "${control_plane[@]}"; do last_pid[$pid]=$(cpu_ticks "/proc/$pid/stat"); done
# pid_cpu PID: its CPU percent of one core since the last call, into $cpu_pct (not echoed:
# a $(...) subshell would lose last_pid).
pid_cpu() {
  local used
  used=$(cpu_ticks "/proc/$1/stat")
  cpu_pct=$(awk -v a="${last_pid[$1]}" -v b="$used" -v t="$ticks" 'BEGIN { printf "%.1f", (b - a) / t / 10 * 100 }')
  last_pid[$1]=$used
}
thread_ticks >"$out/threads-start.txt"
printf 'elapsed_s\tload1\trss_mib\tfds\tthreads\tcpu_pct\tbusiest_threads\tapiserver_etcd_cpu_pct\n' >"$out/samples.tsv"
start=$(date +%s)
while :; do
  sleep 10
  now=$(( $(date +%s) - start ))
  kill -0 "$ballast_pid" 2>/dev/null || { echo "soak: ballast exited at ${now}s" >&2; break; }
  rss=$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$ballast_pid/status")
  fds=$(find "/proc/$ballast_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
  pid_cpu "$ballast_pid"
  cpu=$cpu_pct
  control="-"
  if [ ${#control_plane[@]} -gt 0 ]; then
    pid_cpu "${control_plane[0]}"
    control=$cpu_pct
    pid_cpu "${control_plane[1]}"
    control+="/$cpu_pct"
  fi
  busiest=""
  threads=0
  while read -r tid name used; do
    busiest+="$(( used - ${last_thread[$tid]:-0} )) $tid:$name"$'\n'
    last_thread[$tid]=$used
    threads=$((threads + 1))
  done < <(thread_ticks)
  top=$(echo -n "$busiest" | sort -rn | head -5 | awk -v t="$ticks" '{ printf "%s:%.1f ", $2, $1 / t / 10 * 100 }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$now" "$(cut -d' ' -f1 /proc/loadavg)" "$rss" "$fds" "$threads" "$cpu" \
    "$top" "$control" | tee -a "$out/samples.tsv"
  [ "$now" -lt "$seconds" ] || break
done
thread_ticks >"$out/threads-end.txt"
load_seconds=$(( $(date +%s) - start ))

wait "${pids[2]}" "${pids[3]}" "${pids[4]}" 2>/dev/null || true
curl -s "http://127.0.0.1:$admin_port/metrics" >"$out/metrics-end.txt" || true
log_lines=$(grep -c . "$out/ballast.log" || true)  # before shutdown: its own lines are not the run's
kill "$ballast_pid" 2>/dev/null || true
wait "$ballast_pid" 2>/dev/null || true
kill "$apiserver_pid" 2>/dev/null || true
wait "$apiserver_pid" 2>/dev/null || true

echo "--- publishers"; cat "$out/publishers.txt"
echo "--- getmetrics"; cat "$out/getmetrics.txt"
echo "--- webhook reviews (wrk)"; cat "$out/reviews.txt"
echo "--- apiserver"; cat "$out/apiserver.txt"
echo "--- ballast's CPU per component over the ${load_seconds} s of timed load (% of one core; threads by name)"
# A thread's component is its name up to the first '-' (core/thread_name.h); librdkafka's
# rdk:* threads are kafka's, gRPC names its own (1.51's callback server: nexting_thread polls the
# completion queue and runs the handlers); any other name is listed under "other".
awk -v t="$ticks" -v s="$load_seconds" '
  FNR == NR { before[$1] = $3; next }
  { used = ($3 - before[$1]) / t / s * 100
    part = $2; sub(/-.*/, "", part)
    if ($2 == "ballast") part = "main"; else if ($2 ~ /^rdk:/) part = "kafka"
    else if ($2 ~ /^(nexting_thread|default-executo|resolver-execut|grpc_global_tim|timer_manager|event_engine)$/) part = "grpc"
    else if (part !~ /^(io|inf|rec|leader|tls|kafka)$/) part = "other"
    total[part] += used; named[part, $2] += used; all += used }
  END { for (part in total) { line = sprintf("%-7s %6.1f  ", part, total[part])
                              for (key in named) { split(key, k, SUBSEP)
                                                   if (k[1] == part) line = line sprintf(" %s %.1f", k[2], named[key]) }
                              print line }
        printf "%-7s %6.1f\n", "all", all }' "$out/threads-start.txt" "$out/threads-end.txt" | sort -k2 -rn
echo "--- ballast's own counts at the end of the run (non-zero)"
grep -E '^ballast_(source_errors_total|sessions_rejected_upgrades_total|sessions_frames_total|admission_requests_total|guard_actions_total|scaler_rpc_duration_seconds_count)' \
  "$out/metrics-end.txt" | grep -v ' 0$' || true
echo "--- ballast log during the load: $log_lines warn/error lines"
head -n "$log_lines" "$out/ballast.log" | cut -c1-200 | sort | uniq -c | sort -rn | head -10
echo "--- RSS MiB min/max, fds min/max (samples.tsv)"
awk -F'\t' 'NR > 1 { if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3;
                     if (fmin == "" || $4 < fmin) fmin = $4; if ($4 > fmax) fmax = $4 }
            END { printf "RSS %s .. %s MiB, fds %s .. %s\n", min, max, fmin, fmax }' "$out/samples.tsv"
