#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker + controller) for development and CI.
#
#   deploy/local/kafka.sh start|stop|status|restart|logs [-f]
#
# The jars come from Maven Central through mvn (deploy/local/kafka/pom.xml) into
# .cache/kafka/<version>/lib; the state lives in .run/kafka (both relative to the repo root).
# Everything listens on 127.0.0.1 only. See deploy/local/README.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"
TEMPLATE_DIR="$SCRIPT_DIR/kafka"

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_JVM_PERFORMANCE_OPTS="${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

CACHE_DIR="$REPO_ROOT/.cache/kafka/$KAFKA_VERSION"
LIB_DIR="$CACHE_DIR/lib"
CLASSES_DIR="$CACHE_DIR/classes"
RUN_DIR="$REPO_ROOT/.run/kafka"
DATA_DIR="$RUN_DIR/data"
CONFIG="$RUN_DIR/server.properties"
PID_FILE="$RUN_DIR/kafka.pid"
LOG_FILE="$RUN_DIR/kafka.log"
CLUSTER_ID_FILE="$RUN_DIR/cluster.id"
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $0 start|stop|status|restart|logs [-f]
env: KAFKA_PORT (9092) KAFKA_CONTROLLER_PORT (9093) KAFKA_VERSION ($KAFKA_VERSION)
     KAFKA_HEAP_OPTS ("-Xms256m -Xmx512m") KAFKA_START_TIMEOUT (90) KAFKA_STOP_TIMEOUT (30)
EOF
    exit 2
}

validate_env() {
    [[ "$KAFKA_PORT" =~ ^[0-9]+$ ]] || die "KAFKA_PORT must be a number, got '$KAFKA_PORT'"
    [[ "$KAFKA_CONTROLLER_PORT" =~ ^[0-9]+$ ]] || die "KAFKA_CONTROLLER_PORT must be a number, got '$KAFKA_CONTROLLER_PORT'"
    [[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
    [[ "$KAFKA_VERSION" =~ ^4\.[0-9]+\.[0-9]+$ ]] || die "KAFKA_VERSION must be a 4.x.y release, got '$KAFKA_VERSION'"
}

# --- tools -------------------------------------------------------------------------------

ensure_tools() {
    local missing=()
    command -v java >/dev/null 2>&1 || missing+=(java)
    command -v javac >/dev/null 2>&1 || missing+=(javac)
    command -v mvn >/dev/null 2>&1 || missing+=(mvn)
    ((${#missing[@]} == 0)) && return 0
    if [[ $EUID -ne 0 ]]; then
        die "missing ${missing[*]}; install a JDK 17+ and Maven (apt-get install openjdk-17-jdk-headless maven)"
    fi
    log "installing JDK and Maven from Debian (missing: ${missing[*]})"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jdk-headless maven >&2
}

# Resolves kafka_2.13 + log4j2 SLF4J binding from Maven Central into .cache/kafka/<v>/lib
# (mvn uses its default local repository ~/.m2/repository). Skipped when already complete.
ensure_jars() {
    if [[ -f "$LIB_DIR/.complete" ]]; then
        return 0
    fi
    ensure_tools
    log "resolving Kafka $KAFKA_VERSION jars from Maven Central into ${LIB_DIR#"$REPO_ROOT"/}"
    mkdir -p "$CACHE_DIR"
    local tmp
    tmp="$(mktemp -d "$CACHE_DIR/lib.tmp.XXXXXX")"
    if ! mvn -q -B -Dstyle.color=never -f "$TEMPLATE_DIR/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
        >"$CACHE_DIR/mvn.log" 2>&1; then
        cat "$CACHE_DIR/mvn.log" >&2
        rm -rf "$tmp"
        die "mvn could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (output above, also in ${CACHE_DIR#"$REPO_ROOT"/}/mvn.log)"
    fi
    [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after resolution"; }
    touch "$tmp/.complete"
    rm -rf "$LIB_DIR"
    mv "$tmp" "$LIB_DIR"
}

# Compiles the readiness probe (KafkaReady.java) once per Kafka version.
ensure_probe() {
    ensure_jars
    if [[ -f "$CLASSES_DIR/KafkaReady.class" && "$CLASSES_DIR/KafkaReady.class" -nt "$TEMPLATE_DIR/KafkaReady.java" ]]; then
        return 0
    fi
    ensure_tools
    mkdir -p "$CLASSES_DIR"
    javac -nowarn -d "$CLASSES_DIR" -cp "$LIB_DIR/*" "$TEMPLATE_DIR/KafkaReady.java" >&2
}

tool_java() {
    java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
        -Dlog4j2.configurationFile="$TEMPLATE_DIR/tools-log4j2.properties" \
        -cp "$LIB_DIR/*:$CLASSES_DIR" "$@"
}

# --- state -------------------------------------------------------------------------------

# exit 0 when a Kafka broker answers real API requests on $BOOTSTRAP
answers() {
    # cheap pre-check: nothing listens -> no JVM needed (the broker opens its PLAINTEXT
    # listener only at the very end of its start-up)
    port_open "$KAFKA_PORT" || return 1
    ensure_probe
    tool_java KafkaReady "$BOOTSTRAP" "${1:-5000}" 2>/dev/null
}

# a live process (a zombie counts as dead: kill -0 succeeds on zombies)
alive() {
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
    [[ -n "$state" && "$state" != "Z" && "$state" != "X" ]]
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid of the broker we started (pid file, or the process running our rendered config)
our_pid() {
    local pid=""
    if [[ -f "$PID_FILE" ]]; then
        pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    fi
    if [[ "$pid" =~ ^[0-9]+$ ]] && is_our_broker "$pid"; then
        echo "$pid"
        return 0
    fi
    # pid file lost or stale: look for a JVM running kafka.Kafka with our config
    local p
    for p in $(pgrep -f "kafka\.Kafka $CONFIG" 2>/dev/null || true); do
        if is_our_broker "$p"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

is_our_broker() {
    local cmdline
    [[ -r "/proc/$1/cmdline" ]] || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true)"
    [[ "$cmdline" == *"kafka.Kafka $CONFIG"* ]]
}

render_config() {
    mkdir -p "$RUN_DIR" "$DATA_DIR"
    sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
        -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
        -e "s|@KAFKA_DATA_DIR@|$DATA_DIR|g" \
        "$TEMPLATE_DIR/server.properties" >"$CONFIG.tmp"
    mv "$CONFIG.tmp" "$CONFIG"
}

format_storage() {
    if [[ -f "$DATA_DIR/meta.properties" ]]; then
        return 0
    fi
    local cluster_id
    if [[ -s "$CLUSTER_ID_FILE" ]]; then
        cluster_id="$(cat "$CLUSTER_ID_FILE")"
    else
        cluster_id="$(tool_java kafka.tools.StorageTool random-uuid)"
        echo "$cluster_id" >"$CLUSTER_ID_FILE"
    fi
    log "formatting storage in ${DATA_DIR#"$REPO_ROOT"/} (cluster id $cluster_id)"
    if ! tool_java kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$CONFIG" \
        >"$RUN_DIR/format.log" 2>&1; then
        cat "$RUN_DIR/format.log" >&2
        die "formatting the storage failed"
    fi
}

# --- commands ----------------------------------------------------------------------------

cmd_start() {
    ensure_probe
    if answers 3000 >/dev/null; then
        if our_pid >/dev/null; then
            log "already running (pid $(our_pid)) on $BOOTSTRAP"
        else
            log "a Kafka broker (not started by this script) already answers on $BOOTSTRAP; reusing it"
        fi
        return 0
    fi

    local pid
    if pid="$(our_pid)"; then
        # ours, but not answering (yet): maybe still starting up; wait for it
        log "broker pid $pid exists but does not answer yet; waiting"
    else
        local port
        for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
            if port_open "$port"; then
                die "127.0.0.1:$port is taken by something that is not a Kafka broker we can use; set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
            fi
        done
        render_config
        format_storage
        [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
        log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)"
        local -a jvm_opts
        read -r -a jvm_opts <<<"$KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS"
        # setsid: the broker must not die with the calling shell/CI step;
        # 9>&-: it must not inherit (and hold forever) the lock taken in with_lock
        setsid java "${jvm_opts[@]}" \
            -Dlog4j2.configurationFile="$TEMPLATE_DIR/log4j2.properties" \
            -Dkafka.logs.dir="$RUN_DIR" \
            -cp "$LIB_DIR/*" kafka.Kafka "$CONFIG" \
            </dev/null >>"$LOG_FILE" 2>&1 9>&- &
        pid=$!
        echo "$pid" >"$PID_FILE"
    fi

    local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! alive "$pid"; then
            rm -f "$PID_FILE"
            log "the broker exited during start-up; last lines of ${LOG_FILE#"$REPO_ROOT"/}:"
            tail -n 40 "$LOG_FILE" >&2 || true
            exit 1
        fi
        if answers 3000 >/dev/null; then
            log "Kafka answers on $BOOTSTRAP (pid $pid, ${SECONDS}s)"
            return 0
        fi
        sleep 0.5
    done
    log "Kafka did not answer on $BOOTSTRAP within ${KAFKA_START_TIMEOUT}s; last lines of ${LOG_FILE#"$REPO_ROOT"/}:"
    tail -n 40 "$LOG_FILE" >&2 || true
    exit 1
}

cmd_stop() {
    local pid
    if ! pid="$(our_pid)"; then
        rm -f "$PID_FILE"
        if port_open "$KAFKA_PORT"; then
            log "nothing of ours runs; 127.0.0.1:$KAFKA_PORT is served by another process, left alone"
        else
            log "not running"
        fi
        return 0
    fi
    log "stopping Kafka (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
    while alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.5
    done
    if alive "$pid"; then
        log "still running after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while alive "$pid"; do sleep 0.2; done
    fi
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    local pid="" out
    pid="$(our_pid || true)"
    if out="$(answers 3000)"; then
        if [[ -n "$pid" ]]; then
            echo "running: $out (pid $pid)"
        else
            echo "running: $out (not started by this script)"
        fi
        return 0
    fi
    if [[ -n "$pid" ]]; then
        echo "not answering on $BOOTSTRAP (pid $pid exists: starting or hung)"
    else
        echo "not running on $BOOTSTRAP"
    fi
    return 1
}

cmd_logs() {
    [[ -f "$LOG_FILE" ]] || die "no log yet at ${LOG_FILE#"$REPO_ROOT"/}"
    if [[ "${1:-}" == "-f" ]]; then
        exec tail -n 100 -F "$LOG_FILE"
    fi
    tail -n "${KAFKA_LOG_LINES:-200}" "$LOG_FILE"
}

cmd_restart() {
    cmd_stop
    cmd_start
}

# serialise start/stop/restart of the same .run/kafka (e.g. two test runs at once)
with_lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/.lock"
    flock -w $((KAFKA_START_TIMEOUT + KAFKA_STOP_TIMEOUT + 60)) 9 || die "could not lock $RUN_DIR/.lock"
    "$@"
}

main() {
    (($# >= 1)) || usage
    validate_env
    local cmd="$1"
    shift
    case "$cmd" in
        start) with_lock cmd_start ;;
        stop) with_lock cmd_stop ;;
        restart) with_lock cmd_restart ;;
        status) cmd_status ;;
        logs) cmd_logs "$@" ;;
        -h | --help | help) usage ;;
        *) usage ;;
    esac
}

main "$@"
