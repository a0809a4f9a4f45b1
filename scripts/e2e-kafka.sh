#!/usr/bin/env bash
# A real Apache Kafka 4 for the e2e suite: one KRaft node that is broker and controller at
# once, on loopback, from the Maven Central jars pinned in tests/e2e/kafka/pom.xml (resolved
# once into ~/.cache/ballast/kafka-<hash of the pom>/lib; warm runs need no network).
#
#   scripts/e2e-kafka.sh up      # resolve the jars if needed, format, start, wait until it answers
#   scripts/e2e-kafka.sh env     # prints `export KAFKA_BOOTSTRAP=…` and the other addresses
#   scripts/e2e-kafka.sh stop    # stop the broker by PID, keep its data and ports (an outage)
#   scripts/e2e-kafka.sh start   # start it again on the same ports and data (after stop)
#   scripts/e2e-kafka.sh down    # stop it and remove the state
#   scripts/e2e-kafka.sh lib     # resolve the jars only; prints the lib directory
#
# Listeners: PLAINTEXT (KAFKA_BOOTSTRAP) and SASL_PLAINTEXT with SCRAM-SHA-512 and PLAIN
# (KAFKA_SASL_BOOTSTRAP; one user and password for both: written into the storage at
# format time with StorageTool --add-scram, and into the PLAIN login module's JAAS line). State (config, data, log, PID) lives in $BALLAST_E2E_DIR/kafka,
# or /tmp/ballast-e2e-kafka when BALLAST_E2E_DIR is unset.
# Opt-in: BALLAST_KAFKA_JMX_PORT=<port> exposes the broker's JMX (its request metrics are
# JMX-only) on 127.0.0.1:<port>, without authentication or TLS; unset, no JMX (the default).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${BALLAST_CACHE_DIR:-$HOME/.cache/ballast}"
if [ -n "${BALLAST_E2E_DIR:-}" ]; then state="$BALLAST_E2E_DIR/kafka"; else state=/tmp/ballast-e2e-kafka; fi
pom="$root/tests/e2e/kafka/pom.xml"
scram_user=ballast
say() { echo "e2e-kafka: $*" >&2; }
die() { say "$*"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# resolve_lib: the pinned jars, copied once by Maven into a directory keyed by the pom.
resolve_lib() {
  local key lib
  key="$(sha256sum "$pom" | cut -c1-16)"
  lib="$cache/kafka-$key/lib"
  if [ ! -f "$lib/.complete" ]; then
    command -v mvn >/dev/null || die "Maven is needed once to fetch the Kafka jars (Debian: maven)"
    command -v java >/dev/null || die "Java 17 is needed (Debian: openjdk-17-jre-headless)"
    local started=$SECONDS
    say "resolving the Kafka jars from Maven Central into $lib ..."
    rm -rf "$lib.tmp"
    # copy-dependencies of a pinned plugin version (Debian's Maven defaults to an old one).
    mvn -q -B -f "$pom" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DoutputDirectory="$lib.tmp" -DincludeScope=runtime >&2
    touch "$lib.tmp/.complete"
    rm -rf "$lib" && mkdir -p "$(dirname "$lib")" && mv "$lib.tmp" "$lib"
    say "resolved in $((SECONDS - started)) s"
  fi
  echo "$lib"
}

java_opts=(-Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
broker_opts=()
if [ -n "${BALLAST_KAFKA_JMX_PORT:-}" ]; then
  [[ "$BALLAST_KAFKA_JMX_PORT" =~ ^[0-9]+$ ]] || die "BALLAST_KAFKA_JMX_PORT must be a port number, got '$BALLAST_KAFKA_JMX_PORT'"
  broker_opts=(-Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.port="$BALLAST_KAFKA_JMX_PORT"
               -Dcom.sun.management.jmxremote.rmi.port="$BALLAST_KAFKA_JMX_PORT" -Dcom.sun.management.jmxremote.host=127.0.0.1
               -Djava.rmi.server.hostname=127.0.0.1 -Dcom.sun.management.jmxremote.authenticate=false
               -Dcom.sun.management.jmxremote.ssl=false -Dcom.sun.management.jmxremote.local.only=true)
fi

# kafka_java CLASS ARGS...: one of the jars' main classes with the test logging config.
kafka_java() {
  java "${java_opts[@]}" -Dlog4j2.configurationFile="$state/log4j2.properties" -cp "$(cat "$state/lib")/*" "$@"
}

running() { [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; }

start_broker() {
  running && return 0
  # The log4j2 config sends everything to log/server.log; stdout only gets start-up failures.
  (cd "$state" && exec setsid java "${java_opts[@]}" ${broker_opts[@]+"${broker_opts[@]}"} -Dlog4j2.configurationFile="$state/log4j2.properties" \
     -Dkafka.logs.dir="$state/log" -cp "$(cat "$state/lib")/*" kafka.Kafka "$state/server.properties" \
     >>"$state/log/broker.out" 2>&1 </dev/null) &
  echo $! >"$state/pid"
  local started=$SECONDS
  # Ready when a metadata request on the plaintext listener names the broker.
  until kcat -L -b "$(cat "$state/bootstrap")" -m 2 2>/dev/null | grep -q '1 brokers'; do
    running || { tail -n 30 "$state/log/broker.out" "$state/log/server.log" >&2 2>/dev/null; die "the broker exited; see $state/log"; }
    [ $((SECONDS - started)) -lt 90 ] || { stop_broker; die "the broker did not answer within 90 s; see $state/log"; }
    sleep 0.5
  done
  say "broker up at $(cat "$state/bootstrap") in $((SECONDS - started)) s (pid $(cat "$state/pid"))"
}

# stop_broker: SIGTERM (a controlled shutdown), SIGKILL after 20 s.
stop_broker() {
  [ -f "$state/pid" ] || return 0
  local pid
  pid="$(cat "$state/pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$state/pid"
}

up() {
  command -v kcat >/dev/null || die "kcat is needed (Debian: kcat)"
  running && { say "already up at $(cat "$state/bootstrap")"; return 0; }
  local lib
  lib="$(resolve_lib)"
  rm -rf "$state" && mkdir -p "$state/data" "$state/log"
  echo "$lib" >"$state/lib"
  local plain sasl controller password
  plain="$(free_port)" sasl="$(free_port)" controller="$(free_port)"
  while [ "$sasl" = "$plain" ] || [ "$controller" = "$plain" ] || [ "$controller" = "$sasl" ]; do
    sasl="$(free_port)" controller="$(free_port)"
  done
  password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  echo "127.0.0.1:$plain" >"$state/bootstrap"
  echo "127.0.0.1:$sasl" >"$state/sasl_bootstrap"
  echo "$password" >"$state/scram_password" && chmod 600 "$state/scram_password"
  cat >"$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$plain,SASL_PLAINTEXT://127.0.0.1:$sasl,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$plain,SASL_PLAINTEXT://127.0.0.1:$sasl
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$scram_user="$password";
log.dirs=$state/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=1
PROPS
  cat >"$state/log4j2.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $state/log/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.tools.name = org.apache.kafka.tools
logger.tools.level = WARN
PROPS
  local cluster_id
  cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid)"
  kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$state/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=$scram_user,password=$password]" >"$state/log/format.out" 2>&1 \
    || { cat "$state/log/format.out" >&2; die "formatting the storage failed"; }
  start_broker
}

print_env() {
  [ -f "$state/bootstrap" ] || die "not up (no $state/bootstrap); run: $0 up"
  echo "export KAFKA_BOOTSTRAP=$(cat "$state/bootstrap")"
  echo "export KAFKA_SASL_BOOTSTRAP=$(cat "$state/sasl_bootstrap")"
  echo "export KAFKA_SCRAM_USER=$scram_user"
  echo "export KAFKA_SCRAM_PASSWORD=$(cat "$state/scram_password")"
  echo "export KAFKA_LIB=$(cat "$state/lib")"
  echo "export KAFKA_STATE_DIR=$state"
}

case "${1:-}" in
  up) up; print_env ;;
  env) print_env ;;
  stop) stop_broker ;;
  start) [ -f "$state/server.properties" ] || die "not formatted; run: $0 up"; start_broker ;;
  down) stop_broker; rm -rf "$state" ;;
  lib) resolve_lib ;;
  *) echo "usage: $0 up|env|stop|start|down|lib" >&2; exit 2 ;;
esac
