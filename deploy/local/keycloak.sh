#!/usr/bin/env bash
# Local Keycloak (Maven Central's org.keycloak:keycloak-quarkus-dist) as a peer for benchmarks.
#
#   deploy/local/keycloak.sh start|stop|status
#
# Development mode (`kc.sh start-dev`, its embedded H2 database: not a production setup) on
# 127.0.0.1:${KEYCLOAK_PORT:-8180}. The distribution is cached in .cache/keycloak/<version>, checked
# against the .sha1 Maven Central publishes beside it. KEYCLOAK_VERSION defaults to 25.0.6, the newest
# line that still runs on Java 17 (Keycloak 26 needs Java 21). Pid file and log in .run/keycloak/.
# The bootstrap admin is ${KEYCLOAK_ADMIN_USER:-admin} / ${KEYCLOAK_ADMIN_SECRET:-admin}.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"

KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-25.0.6}"
KEYCLOAK_PORT="${KEYCLOAK_PORT:-8180}"
KEYCLOAK_ADMIN_USER="${KEYCLOAK_ADMIN_USER:-admin}"
KEYCLOAK_ADMIN_SECRET="${KEYCLOAK_ADMIN_SECRET:-admin}"
KEYCLOAK_START_TIMEOUT="${KEYCLOAK_START_TIMEOUT:-240}"
KEYCLOAK_HEAP="${KEYCLOAK_HEAP:--Xms512m -Xmx1g}"
BASE_URL="https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist"

CACHE_DIR="$REPO_ROOT/.cache/keycloak/$KEYCLOAK_VERSION"
HOME_DIR="$CACHE_DIR/keycloak-$KEYCLOAK_VERSION"
RUN_DIR="$REPO_ROOT/.run/keycloak"
PID_FILE="$RUN_DIR/keycloak.pid"
LOG_FILE="$RUN_DIR/keycloak.log"

cd /

log() { printf 'keycloak.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ "$KEYCLOAK_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || die "KEYCLOAK_PORT must be a port number"
[[ "$KEYCLOAK_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "KEYCLOAK_VERSION must look like 25.0.6"

ensure_java() {
    command -v java >/dev/null 2>&1 || die "java not found; install it: apt-get install openjdk-17-jre-headless"
    local major
    major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
    if [[ "${KEYCLOAK_VERSION%%.*}" -ge 26 && "$major" -lt 21 ]]; then
        die "Keycloak $KEYCLOAK_VERSION needs Java 21; java here is $major"
    fi
}

ensure_dist() {
    [[ -x "$HOME_DIR/bin/kc.sh" ]] && return 0
    mkdir -p "$CACHE_DIR"
    local zip="$CACHE_DIR/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
    local url="$BASE_URL/$KEYCLOAK_VERSION/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
    # A copy fetched earlier into .cache/keycloak/ is reused (checked all the same).
    local old="$REPO_ROOT/.cache/keycloak/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
    [[ -f "$zip" || ! -f "$old" ]] || cp "$old" "$zip"
    if [[ ! -f "$zip" ]]; then
        log "downloading $url"
        curl -fsSL --retry 3 -o "$zip.part" "$url"
        mv "$zip.part" "$zip"
    fi
    local expected actual
    expected="$(curl -fsSL --retry 3 "$url.sha1" | awk '{print $1}')"
    actual="$(sha1sum "$zip" | awk '{print $1}')"
    if [[ "$expected" != "$actual" ]]; then
        rm -f "$zip"
        die "SHA-1 mismatch for $zip: $actual, Maven Central says $expected"
    fi
    log "SHA-1 $actual matches Maven Central"
    (cd "$CACHE_DIR" && unzip -q -o "$zip")
    chmod +x "$HOME_DIR/bin/kc.sh"
}

running_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

answers() { curl -fsS -o /dev/null "http://127.0.0.1:$KEYCLOAK_PORT/realms/master" 2>/dev/null; }

start() {
    if pid="$(running_pid)"; then
        if answers; then log "already running (pid $pid) on 127.0.0.1:$KEYCLOAK_PORT"; echo "$pid"; return 0; fi
    else
        ensure_java
        ensure_dist
        mkdir -p "$RUN_DIR"
        log "starting Keycloak $KEYCLOAK_VERSION (start-dev, H2) on 127.0.0.1:$KEYCLOAK_PORT, log $LOG_FILE"
        KEYCLOAK_ADMIN="$KEYCLOAK_ADMIN_USER" KEYCLOAK_ADMIN_PASSWORD="$KEYCLOAK_ADMIN_SECRET" \
        KC_BOOTSTRAP_ADMIN_USERNAME="$KEYCLOAK_ADMIN_USER" KC_BOOTSTRAP_ADMIN_PASSWORD="$KEYCLOAK_ADMIN_SECRET" \
        JAVA_OPTS_APPEND="$KEYCLOAK_HEAP" \
            setsid nohup "$HOME_DIR/bin/kc.sh" start-dev --http-host=127.0.0.1 --http-port="$KEYCLOAK_PORT" \
            --log-level=WARN >"$LOG_FILE" 2>&1 </dev/null &
        echo $! >"$PID_FILE"
        pid="$(cat "$PID_FILE")"
    fi
    local deadline=$((SECONDS + KEYCLOAK_START_TIMEOUT))
    until answers; do
        kill -0 "$pid" 2>/dev/null || { tail -30 "$LOG_FILE" >&2; die "Keycloak exited while starting"; }
        ((SECONDS < deadline)) || { tail -30 "$LOG_FILE" >&2; die "Keycloak did not answer within ${KEYCLOAK_START_TIMEOUT}s"; }
        sleep 1
    done
    log "Keycloak answers on http://127.0.0.1:$KEYCLOAK_PORT (pid $pid)"
    echo "$pid"
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then log "not running"; rm -f "$PID_FILE"; return 0; fi
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"; fi
    rm -f "$PID_FILE"
    log "stopped"
}

status() {
    local pid
    if pid="$(running_pid)" && answers; then
        echo "running (pid $pid) on http://127.0.0.1:$KEYCLOAK_PORT, Keycloak $KEYCLOAK_VERSION"
    else
        echo "not running"; return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
