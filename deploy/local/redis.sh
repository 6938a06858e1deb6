#!/usr/bin/env bash
# Local Redis (Debian's packages) for development and CI: the gateway's shared rate-limit store.
#
#   deploy/local/redis.sh start|stop|status|restart
#
# Our own instance: listens on 127.0.0.1:${REDIS_PORT:-6379} only, keeps nothing on disk
# (--save "" --appendonly no: rate-limit buckets are worthless after a restart), daemonizes, and
# keeps its pid file, log and lock in .run/redis/redis-<port>.* (repo root relative), so a test
# can run a second instance on another port beside the shared one.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"

REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_START_TIMEOUT="${REDIS_START_TIMEOUT:-30}"
REDIS_STOP_TIMEOUT="${REDIS_STOP_TIMEOUT:-15}"

RUN_DIR="$REPO_ROOT/.run/redis"
PID_FILE="$RUN_DIR/redis-$REDIS_PORT.pid"
LOG_FILE="$RUN_DIR/redis-$REDIS_PORT.log"

# all paths are absolute; do not keep the caller's cwd busy
cd /

log() { printf 'redis.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $0 start|stop|status|restart
env: REDIS_PORT (6379) REDIS_START_TIMEOUT (30) REDIS_STOP_TIMEOUT (15)
EOF
    exit 2
}

validate_env() {
    if ! [[ "$REDIS_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || ((REDIS_PORT > 65535)); then
        die "REDIS_PORT must be a port number (1-65535), got '$REDIS_PORT'"
    fi
    [[ "$REDIS_START_TIMEOUT" =~ ^[0-9]+$ ]] || die "REDIS_START_TIMEOUT must be a number of seconds"
    [[ "$REDIS_STOP_TIMEOUT" =~ ^[0-9]+$ ]] || die "REDIS_STOP_TIMEOUT must be a number of seconds"
}

# --- binaries ----------------------------------------------------------------------------

ensure_redis() {
    if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
        return 0
    fi
    [[ $EUID -eq 0 ]] || die "redis-server not found; install it: apt-get install redis-server"
    log "redis-server not found; installing Debian's redis-server package"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >&2
    command -v redis-server >/dev/null 2>&1 || die "redis-server installed but not on PATH"
    stop_debian_service
}

# Debian's package starts (where the init system lets it) and enables its own redis-server on 6379:
# it is not ours and would take the default port, so right after installing it, stop it and keep it
# from starting at boot.
stop_debian_service() {
    if command -v systemctl >/dev/null 2>&1; then
        if systemctl is-active --quiet redis-server 2>/dev/null; then
            log "stopping Debian's redis-server service (we run our own instance)"
        fi
        systemctl disable --now redis-server >/dev/null 2>&1 || true
    fi
    if [[ -x /etc/init.d/redis-server ]] && /etc/init.d/redis-server status >/dev/null 2>&1; then
        log "stopping Debian's redis-server service (we run our own instance)"
        /etc/init.d/redis-server stop >&2 || log "could not stop Debian's redis-server service"
    fi
    if command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d redis-server disable >/dev/null 2>&1 || true
    fi
    return 0
}

# --- checks ------------------------------------------------------------------------------

redis_version() {
    redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'
}

cli() {
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

answers_ping() {
    [[ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null
}

# pid from our pid file, if it is a live (non-zombie) redis-server serving our port
our_pid() {
    local pid state cmdline
    [[ -f "$PID_FILE" ]] || return 1
    pid="$(head -n 1 "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ -n "$state" && "$state" != "Z" && "$state" != "X" ]] || return 1
    # redis-server sets its title to "redis-server 127.0.0.1:<port>"
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmdline" == *"redis-server"*":$REDIS_PORT"* ]] || return 1
    echo "$pid"
}

wait_ready() {
    local deadline=$((SECONDS + REDIS_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        answers_ping && return 0
        sleep 0.1
    done
    return 1
}

wait_gone() {
    local pid="$1" deadline=$((SECONDS + REDIS_STOP_TIMEOUT)) state
    while ((SECONDS < deadline)); do
        state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
        [[ -z "$state" || "$state" == "Z" || "$state" == "X" ]] && return 0
        sleep 0.1
    done
    return 1
}

# --- commands ----------------------------------------------------------------------------

cmd_start() {
    ensure_redis
    if answers_ping; then
        if our_pid >/dev/null; then
            log "already running on 127.0.0.1:$REDIS_PORT"
        else
            log "a Redis server (not started by this script) answers on 127.0.0.1:$REDIS_PORT; reusing it"
        fi
        return 0
    fi
    if port_open; then
        die "127.0.0.1:$REDIS_PORT is taken by something that does not answer a Redis PING; set REDIS_PORT to use another port"
    fi
    # a pid file left by a crashed instance would only confuse stop/status
    our_pid >/dev/null || rm -f "$PID_FILE"

    mkdir -p "$RUN_DIR"
    [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
    log "starting Redis $(redis_version) on 127.0.0.1:$REDIS_PORT"
    # 9>&-: the daemon must not inherit (and hold forever) the lock taken in with_lock
    redis-server \
        --bind 127.0.0.1 \
        --port "$REDIS_PORT" \
        --protected-mode yes \
        --save "" \
        --appendonly no \
        --daemonize yes \
        --pidfile "$PID_FILE" \
        --logfile "$LOG_FILE" \
        --dir "$RUN_DIR" \
        9>&- || { tail -n 30 "$LOG_FILE" >&2 2>/dev/null || true; die "redis-server did not start"; }
    if ! wait_ready; then
        log "Redis does not answer PING on 127.0.0.1:$REDIS_PORT; last lines of ${LOG_FILE#"$REPO_ROOT"/}:"
        tail -n 30 "$LOG_FILE" >&2 || true
        exit 1
    fi
    log "Redis answers on 127.0.0.1:$REDIS_PORT (${SECONDS}s)"
}

cmd_stop() {
    local pid
    if ! pid="$(our_pid)"; then
        rm -f "$PID_FILE"
        if answers_ping; then
            log "our instance is not running; 127.0.0.1:$REDIS_PORT is served by another Redis, left alone"
        else
            log "not running"
        fi
        return 0
    fi
    log "stopping Redis (pid $pid)"
    # nosave: this instance has no persistence, and a SHUTDOWN that tried to save could refuse
    cli shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid"; then
        log "Redis (pid $pid) still runs after SHUTDOWN; sending SIGTERM"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid"; then
            log "Redis (pid $pid) ignored SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" || die "could not stop Redis (pid $pid)"
        fi
    fi
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    if answers_ping; then
        local version
        version="$(cli info server 2>/dev/null | tr -d '\r' | awk -F: '$1 == "redis_version" {print $2}')"
        if our_pid >/dev/null; then
            echo "running: 127.0.0.1:$REDIS_PORT (Redis $version, pid $(our_pid), log ${LOG_FILE#"$REPO_ROOT"/})"
        else
            echo "running: 127.0.0.1:$REDIS_PORT answers PING (Redis $version, not started by this script)"
        fi
        return 0
    fi
    if our_pid >/dev/null; then
        echo "our instance (pid $(our_pid)) runs but does not answer PING on 127.0.0.1:$REDIS_PORT"
    else
        echo "not running on 127.0.0.1:$REDIS_PORT"
    fi
    return 1
}

cmd_restart() {
    cmd_stop
    cmd_start
}

with_lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/redis-$REDIS_PORT.lock"
    flock -w $((REDIS_START_TIMEOUT + REDIS_STOP_TIMEOUT + 300)) 9 || die "could not lock $RUN_DIR/redis-$REDIS_PORT.lock"
    "$@"
}

main() {
    (($# == 1)) || usage
    validate_env
    case "$1" in
        start) with_lock cmd_start ;;
        stop) with_lock cmd_stop ;;
        restart) with_lock cmd_restart ;;
        status) command -v redis-cli >/dev/null 2>&1 || { echo "redis-cli not installed"; exit 1; }; cmd_status ;;
        -h | --help | help) usage ;;
        *) usage ;;
    esac
}

main "$@"
