#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for the e2e suite, the way envtest runs one:
# etcd, kube-apiserver (RBAC, the default admission plugins), kube-controller-manager
# (disruption, garbage collector, Deployment/ReplicaSet and HPA controllers), kube-scheduler and kwok
# (simulated kubelets: Nodes annotated kwok.x-k8s.io/node=fake become Ready and their pods
# Running). The binaries come from scripts/e2e-bins.sh (built once, cached).
#
#   scripts/e2e-cluster.sh up      # build if needed, start, wait until healthy
#   scripts/e2e-cluster.sh up apiserver   # etcd and kube-apiserver only (bench/soak.sh)
#   scripts/e2e-cluster.sh env     # prints `export KUBECONFIG=…` (admin) and the other addresses
#   scripts/e2e-cluster.sh down    # stop every process `up` started, by PID, and remove the state
#   scripts/e2e-cluster.sh restart NAME   # stop one component (e.g. kube-apiserver) and start
#                                         # it again with the same flags (fault tests)
#
# State (certificates, kubeconfigs, data, logs, PIDs) lives in $BALLAST_E2E_DIR
# (default /tmp/ballast-e2e); logs are in its log/ folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${BALLAST_E2E_DIR:-/tmp/ballast-e2e}"
say() { echo "e2e-cluster: $*" >&2; }
die() { say "$*"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# stop_all: SIGTERM each recorded process, then SIGKILL what is left after 10 s.
stop_all() {
  [ -d "$state/pid" ] || return 0
  local pidfile pid
  for pidfile in "$state"/pid/*; do
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
  done
  for _ in $(seq 100); do
    local alive=0
    for pidfile in "$state"/pid/*; do
      [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pidfile in "$state"/pid/*; do
    [ -f "$pidfile" ] || continue
    kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

# start NAME COMMAND...: in the background, output to log/NAME.log, PID and command recorded.
start() {
  local name="$1"
  shift
  printf '%s\0' "$@" >"$state/cmd/$name"
  "$@" >>"$state/log/$name.log" 2>&1 &
  echo $! >"$state/pid/$name"
}

# restart NAME: SIGTERM, wait for the exit, start the recorded command again.
restart() {
  local name="$1" pid
  [ -f "$state/cmd/$name" ] || die "no component $name in $state"
  pid="$(cat "$state/pid/$name")"
  kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  local command=()
  mapfile -d '' command <"$state/cmd/$name"
  start "$name" "${command[@]}"
  say "restarted $name"
}

# wait_for WHAT SECONDS COMMAND...: until COMMAND succeeds, or fail naming the log to read.
wait_for() {
  local what="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what not healthy after ${seconds} s; see $state/log/$what.log"
    kill -0 "$(cat "$state/pid/$what")" 2>/dev/null || die "$what exited; see $state/log/$what.log"
    sleep 0.2
  done
}

make_certs() {
  local pki="$state/pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    umask 077
    # authority NAME SUBJECT: a self-signed CA.
    authority() {
      openssl req -x509 -new -nodes -newkey rsa:2048 -keyout "$1.key" -out "$1.crt" -days 2 -subj "$2" 2>/dev/null
    }
    # signed CA NAME SUBJECT EXTENSIONS: a certificate signed by CA.
    signed() {
      openssl req -new -nodes -newkey rsa:2048 -keyout "$2.key" -out "$2.csr" -subj "$3" 2>/dev/null
      printf '%s\n' "$4" >"$2.ext"
      openssl x509 -req -in "$2.csr" -CA "$1.crt" -CAkey "$1.key" -CAcreateserial -days 2 \
        -extfile "$2.ext" -out "$2.crt" 2>/dev/null
      rm -f "$2.csr" "$2.ext"
    }
    authority ca "/CN=ballast-e2e-ca"
    signed ca apiserver "/CN=kube-apiserver" \
      "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth"
    signed ca admin "/O=system:masters/CN=e2e-admin" "extendedKeyUsage=clientAuth"
    # The aggregation layer: the apiserver proxies aggregated APIs (KEDA's metrics adapter)
    # with a client certificate of its own front-proxy CA, as kubeadm sets it up; the adapter
    # trusts that CA through kube-system/extension-apiserver-authentication.
    authority front-proxy-ca "/CN=ballast-e2e-front-proxy-ca"
    signed front-proxy-ca front-proxy-client "/CN=front-proxy-client" "extendedKeyUsage=clientAuth"
    # KEDA's metrics adapter (tests/e2e/keda_fixtures.py) behind the Service
    # keda/keda-metrics-apiserver: the aggregator checks that name against the APIService's
    # caBundle (the cluster CA).
    signed ca keda-adapter "/CN=keda-metrics-apiserver.keda.svc" \
      "subjectAltName=DNS:keda-metrics-apiserver.keda.svc
extendedKeyUsage=serverAuth"
    openssl genrsa -out sa.key 2048 2>/dev/null
  )
}

# kubeconfig FILE CERT KEY: a kubeconfig for a client certificate of the cluster CA.
kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "https://127.0.0.1:$(cat "$state/apiserver.port")", certificate-authority: $state/pki/ca.crt}
users:
- name: user
  user: {client-certificate: $2, client-key: $3}
contexts:
- name: e2e
  context: {cluster: e2e, user: user}
current-context: e2e
EOF
}

# kwok's stages (what it does to Nodes and Pods) ship in its module: fast node
# initialisation, heartbeats with Leases, pods Ready at once.
kwok_stages() {
  local dir
  dir="$(cd "$root/tests/e2e/kwok" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  local stage
  for stage in node/fast/node-initialize.yaml node/heartbeat-with-lease/*.yaml pod/fast/pod-*.yaml; do
    for file in $dir/kustomize/stage/$stage; do
      echo "---"
      cat "$file"
    done
  done
}

# up [apiserver]: the whole control plane, or only etcd and kube-apiserver.
up() {
  local only="${1:-}"
  [ -f "$state/pid/kube-apiserver" ] && kill -0 "$(cat "$state/pid/kube-apiserver")" 2>/dev/null &&
    die "already up in $state (scripts/e2e-cluster.sh down first)"
  local bin kubectl="${BALLAST_TOOLS_DIR:-$root/tools/bin}/kubectl"
  bin="$("$root/scripts/e2e-bins.sh")"
  [ "$only" = apiserver ] || "$root/scripts/fetch-helm.sh"
  rm -rf "$state"
  mkdir -p "$state/log" "$state/pid" "$state/cmd"
  mkdir -m 0700 "$state/etcd"
  local started=$SECONDS
  make_certs
  local etcd_port etcd_peer api_port
  etcd_port="$(free_port)"; etcd_peer="$(free_port)"; api_port="$(free_port)"
  echo "$api_port" >"$state/apiserver.port"

  start etcd "$bin/etcd" --data-dir "$state/etcd" --name e2e \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "e2e=http://127.0.0.1:$etcd_peer" --listen-metrics-urls "" \
    --unsafe-no-fsync --watch-progress-notify-interval=5s --log-level warn
  echo "$etcd_port" >"$state/etcd.port"
  wait_for etcd 60 curl -sf "http://127.0.0.1:$etcd_port/health"

  start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$api_port" --tls-cert-file "$state/pki/apiserver.crt" --tls-private-key-file "$state/pki/apiserver.key" \
    --client-ca-file "$state/pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$state/pki/sa.key" --service-account-signing-key-file "$state/pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --authorization-mode Node,RBAC --allow-privileged=true \
    --endpoint-reconciler-type none --profiling=false \
    --requestheader-client-ca-file "$state/pki/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- --proxy-client-cert-file "$state/pki/front-proxy-client.crt" \
    --proxy-client-key-file "$state/pki/front-proxy-client.key" --enable-aggregator-routing=true
  kubeconfig "$state/admin.kubeconfig" "$state/pki/admin.crt" "$state/pki/admin.key"
  wait_for kube-apiserver 120 curl -sf --cacert "$state/pki/ca.crt" --cert "$state/pki/admin.crt" \
    --key "$state/pki/admin.key" "https://127.0.0.1:$api_port/readyz"
  if [ "$only" = apiserver ]; then
    say "etcd and kube-apiserver up in $((SECONDS - started)) s: https://127.0.0.1:$api_port, state in $state"
    return
  fi

  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$state/admin.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$(free_port)" \
    --root-ca-file "$state/pki/ca.crt" --service-account-private-key-file "$state/pki/sa.key" \
    --controllers '*' --use-service-account-credentials=false
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$state/admin.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$(free_port)"
  kwok_stages >"$state/kwok-stages.yaml"
  start kwok "$bin/kwok" --kubeconfig "$state/admin.kubeconfig" --config "$state/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --server-address "127.0.0.1:$(free_port)"
  # The default ServiceAccount appearing in `default` shows the controller manager works.
  wait_for kube-controller-manager 120 "$kubectl" --kubeconfig "$state/admin.kubeconfig" get serviceaccount default -n default
  say "up in $((SECONDS - started)) s: apiserver https://127.0.0.1:$api_port, state in $state"
}

case "${1:-}" in
  up) up "${2:-}" ;;
  down) stop_all; rm -rf "$state"; say "down" ;;
  restart) restart "${2:?usage: scripts/e2e-cluster.sh restart NAME}" ;;
  env)
    [ -f "$state/admin.kubeconfig" ] || die "not up (scripts/e2e-cluster.sh up)"
    echo "export KUBECONFIG=$state/admin.kubeconfig"
    echo "export BALLAST_E2E_DIR=$state"
    echo "export BALLAST_E2E_ETCD=http://127.0.0.1:$(cat "$state/etcd.port")"
    ;;
  *) die "usage: scripts/e2e-cluster.sh up [apiserver]|down|env|restart NAME" ;;
esac
