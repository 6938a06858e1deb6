#!/usr/bin/env bash
# Local PostgreSQL cluster (Debian's packages) for development and CI.
#
#   deploy/local/postgres.sh start|stop|status|restart|createdb NAME|url NAME
#
# Our own cluster lives in .run/postgres/data (repo root relative), runs as the postgres OS user,
# listens on 127.0.0.1:${PG_PORT:-5432} only and has its unix socket in .run/postgres.
# Role basisdienste/basisdienste (scram over TCP). See deploy/local/README.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"

PG_PORT="${PG_PORT:-5432}"
PG_START_TIMEOUT="${PG_START_TIMEOUT:-60}"
PG_OS_USER="postgres"
PG_ROLE="basisdienste"
PG_PASSWORD="basisdienste"

RUN_DIR="$REPO_ROOT/.run/postgres"
DATA_DIR="$RUN_DIR/data"
SOCKET_DIR="$RUN_DIR"
LOG_FILE="$RUN_DIR/postgres.log"

PG_BIN=""

# all paths are absolute; the postgres OS user may not be allowed into the caller's cwd
cd /

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $0 start|stop|status|restart|createdb NAME|url NAME
env: PG_PORT (5432) PG_START_TIMEOUT (60)
EOF
    exit 2
}

validate_env() {
    [[ "$PG_PORT" =~ ^[0-9]+$ ]] || die "PG_PORT must be a number, got '$PG_PORT'"
}

validate_dbname() {
    [[ "${1:-}" =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] \
        || die "database name must match [A-Za-z_][A-Za-z0-9_]* (max 63 chars), got '${1:-}'"
}

# --- binaries ----------------------------------------------------------------------------

# newest /usr/lib/postgresql/<major>/bin that has initdb and pg_ctl
find_pg_bin() {
    local dir best=""
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]] || continue
        if [[ -z "$best" ]] || [[ "$(basename "$(dirname "$dir")")" -gt "$(basename "$(dirname "$best")")" ]]; then
            best="$dir"
        fi
    done
    [[ -n "$best" ]] || return 1
    echo "$best"
}

ensure_pg() {
    if PG_BIN="$(find_pg_bin)"; then
        return 0
    fi
    [[ $EUID -eq 0 ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; install them: apt-get install postgresql"
    log "PostgreSQL not found; installing Debian's postgresql package"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
    PG_BIN="$(find_pg_bin)" || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
    # Debian creates a "main" cluster on 5432 and may start it: we run our own cluster instead.
    local major
    major="$(basename "$(dirname "$PG_BIN")")"
    if [[ -f "/etc/postgresql/$major/main/start.conf" ]]; then
        echo manual >"/etc/postgresql/$major/main/start.conf"
        if command -v pg_ctlcluster >/dev/null 2>&1 && pg_ctlcluster "$major" main status >/dev/null 2>&1; then
            log "stopping Debian's auto-started cluster $major/main (set to start manually)"
            pg_ctlcluster "$major" main stop >&2 || true
        fi
    fi
}

as_pg() {
    runuser -u "$PG_OS_USER" -- "$@"
}

# --- checks ------------------------------------------------------------------------------

check_os_user() {
    [[ $EUID -eq 0 ]] || [[ "$(id -un)" == "$PG_OS_USER" ]] \
        || die "run as root (or as the $PG_OS_USER user); PostgreSQL itself runs as '$PG_OS_USER'"
    id "$PG_OS_USER" >/dev/null 2>&1 || die "OS user '$PG_OS_USER' missing (it comes with Debian's postgresql package)"
}

# every directory above .run/postgres must be searchable by the postgres user (checked from / down,
# so the message names the first directory that blocks)
check_traversable() {
    local dir="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${REPO_ROOT#/}"
    for part in "" "${parts[@]}"; do
        dir="${dir%/}/$part"
        if ! as_pg test -x "$dir"; then
            die "the $PG_OS_USER user cannot enter '$dir' (mode $(stat -c %A "$dir")), but PostgreSQL's data lives under $RUN_DIR. Fix e.g. with: chmod o+x '$dir'  (or check the repository out elsewhere)"
        fi
    done
    # a unix socket path is limited to 107 bytes
    local sock="$SOCKET_DIR/.s.PGSQL.$PG_PORT"
    ((${#sock} <= 100)) || die "socket path too long (${#sock} > 100 bytes): $sock; use a shorter checkout path"
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

tcp_psql() {
    PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" "$@"
}

# superuser over our unix socket (trust), only for our own cluster
socket_psql() {
    PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PG_PORT" -U postgres "$@"
}

answers_with_our_credentials() {
    [[ "$(tcp_psql -d postgres -Atc 'select 1' 2>/dev/null)" == "1" ]]
}

# pid of our postmaster from postmaster.pid, if it is a live (non-zombie) postgres on our data dir
postmaster_pid() {
    local pid state cmdline
    [[ -f "$DATA_DIR/postmaster.pid" ]] || return 1
    pid="$(head -n 1 "$DATA_DIR/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ -n "$state" && "$state" != "Z" && "$state" != "X" ]] || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmdline" == *"postgres"*"$DATA_DIR"* ]] || return 1
    echo "$pid"
}

our_cluster_running() {
    [[ -f "$DATA_DIR/PG_VERSION" ]] && postmaster_pid >/dev/null
}

# after a crash (kill -9) the dead postmaster can linger as a zombie for a moment; PostgreSQL
# refuses to start while the pid in postmaster.pid exists, so wait for it to be reaped
wait_stale_postmaster_gone() {
    local pid state i
    [[ -f "$DATA_DIR/postmaster.pid" ]] || return 0
    pid="$(head -n 1 "$DATA_DIR/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    for ((i = 0; i < 40; i++)); do
        state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
        [[ "$state" == "Z" ]] || return 0
        sleep 0.25
    done
    log "the old postmaster (pid $pid) is still a zombie; trying to start anyway"
}

# --- cluster -----------------------------------------------------------------------------

init_cluster() {
    mkdir -p "$RUN_DIR"
    chown "$PG_OS_USER:" "$RUN_DIR"
    chmod 0750 "$RUN_DIR"
    if [[ -f "$DATA_DIR/PG_VERSION" ]]; then
        local have want
        have="$(cat "$DATA_DIR/PG_VERSION")"
        want="$(basename "$(dirname "$PG_BIN")")"
        [[ "$have" == "$want" ]] || die "$DATA_DIR was initialised by PostgreSQL $have but the newest installed is $want; remove .run/postgres to start afresh"
        return 0
    fi
    log "initialising a new cluster in ${DATA_DIR#"$REPO_ROOT"/} ($("$PG_BIN/postgres" --version))"
    rm -rf "$DATA_DIR"
    as_pg "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$RUN_DIR/initdb.log" 2>&1 \
        || { cat "$RUN_DIR/initdb.log" >&2; die "initdb failed"; }
    as_pg tee "$DATA_DIR/pg_hba.conf" >/dev/null <<'EOF'
# written by deploy/local/postgres.sh
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  scram-sha-256
EOF
    as_pg tee -a "$DATA_DIR/postgresql.conf" >/dev/null <<'EOF'

# deploy/local/postgres.sh: settings of the local cluster (rendered on every start)
include_if_exists = 'basisdienste.conf'
EOF
}

render_conf() {
    as_pg tee "$DATA_DIR/basisdienste.conf" >/dev/null <<EOF
# rendered by deploy/local/postgres.sh on every start; edit the script, not this file
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$SOCKET_DIR'
max_connections = 200
password_encryption = 'scram-sha-256'
fsync = on
shared_buffers = 128MB
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
}

ensure_role() {
    local exists
    exists="$(socket_psql -d postgres -Atc "select 1 from pg_roles where rolname = '$PG_ROLE'")"
    if [[ "$exists" != "1" ]]; then
        log "creating role $PG_ROLE"
        socket_psql -d postgres -c "create role $PG_ROLE login createdb password '$PG_PASSWORD'"
    fi
}

wait_ready() {
    local deadline=$((SECONDS + PG_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; then
            return 0
        fi
        sleep 0.5
    done
    return 1
}

# --- commands ----------------------------------------------------------------------------

cmd_start() {
    ensure_pg
    check_os_user
    check_traversable

    if our_cluster_running; then
        wait_ready || die "our cluster runs but does not accept connections on 127.0.0.1:$PG_PORT; see ${LOG_FILE#"$REPO_ROOT"/}"
        ensure_role
        log "already running on 127.0.0.1:$PG_PORT"
        return 0
    fi
    stop_debian_main_on_our_port
    if port_open "$PG_PORT"; then
        if answers_with_our_credentials; then
            log "a PostgreSQL server (not ours) already answers on 127.0.0.1:$PG_PORT with our credentials; reusing it"
            return 0
        fi
        die "127.0.0.1:$PG_PORT is taken by something that does not accept $PG_ROLE/$PG_PASSWORD$(debian_cluster_hint); set PG_PORT to use another port"
    fi

    init_cluster
    wait_stale_postmaster_gone
    render_conf
    touch "$LOG_FILE"
    chown "$PG_OS_USER:" "$LOG_FILE"
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # -w: wait until the server accepts connections; setsid: survive the calling shell/CI step
    # 9>&-: the server must not inherit (and hold forever) the lock taken in with_lock
    if ! setsid runuser -u "$PG_OS_USER" -- "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" \
        -w -t "$PG_START_TIMEOUT" start >/dev/null 9>&-; then
        log "PostgreSQL did not start; last lines of ${LOG_FILE#"$REPO_ROOT"/}:"
        tail -n 30 "$LOG_FILE" >&2 || true
        exit 1
    fi
    wait_ready || { tail -n 30 "$LOG_FILE" >&2; die "PostgreSQL not ready on 127.0.0.1:$PG_PORT"; }
    ensure_role
    answers_with_our_credentials || die "PostgreSQL runs but $PG_ROLE cannot log in over TCP"
    log "PostgreSQL answers on 127.0.0.1:$PG_PORT (${SECONDS}s)"
}

# Debian's packaging creates (and may start) a cluster "main" on 5432: it is not ours and
# would take our port, so stop it when it is the one holding PG_PORT.
stop_debian_main_on_our_port() {
    command -v pg_lsclusters >/dev/null 2>&1 || return 0
    local ver
    for ver in $(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$2 == "main" && $3 == p && $4 ~ /^online/ {print $1}'); do
        log "Debian's cluster $ver/main runs on port $PG_PORT; stopping it (pg_ctlcluster $ver main stop)"
        pg_ctlcluster "$ver" main stop >&2 || die "could not stop Debian's cluster $ver/main; stop it or set PG_PORT"
    done
}

debian_cluster_hint() {
    command -v pg_lsclusters >/dev/null 2>&1 || return 0
    local line
    line="$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p && $4 == "online" {print $1 "/" $2}' | head -n 1)"
    [[ -n "$line" ]] && printf ' (it is the Debian cluster %s: stop it with "pg_ctlcluster %s stop")' "$line" "${line/\// }"
    return 0
}

cmd_stop() {
    ensure_pg
    if ! our_cluster_running; then
        if port_open "$PG_PORT"; then
            log "our cluster is not running; 127.0.0.1:$PG_PORT is served by another server, left alone"
        else
            log "not running"
        fi
        return 0
    fi
    log "stopping PostgreSQL"
    as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" stop -m fast -w -t 60 >/dev/null
    log "stopped"
}

cmd_status() {
    ensure_pg
    if answers_with_our_credentials; then
        if our_cluster_running; then
            echo "running: 127.0.0.1:$PG_PORT ($("$PG_BIN/postgres" --version | awk '{print $3}'), data ${DATA_DIR#"$REPO_ROOT"/})"
        else
            echo "running: 127.0.0.1:$PG_PORT answers with our credentials (not our cluster)"
        fi
        return 0
    fi
    if our_cluster_running; then
        echo "our cluster runs but $PG_ROLE cannot log in on 127.0.0.1:$PG_PORT"
    else
        echo "not running on 127.0.0.1:$PG_PORT"
    fi
    return 1
}

cmd_createdb() {
    local name="${1:-}"
    validate_dbname "$name"
    ensure_pg
    answers_with_our_credentials || die "PostgreSQL does not answer on 127.0.0.1:$PG_PORT; run: $0 start"
    local exists
    exists="$(tcp_psql -d postgres -Atc "select 1 from pg_database where datname = '$name'")"
    if [[ "$exists" == "1" ]]; then
        log "database $name exists"
        return 0
    fi
    # CREATE DATABASE cannot run in a transaction; a concurrent creator makes it fail: re-check
    if ! tcp_psql -d postgres -c "create database \"$name\" owner $PG_ROLE" 2>/dev/null; then
        exists="$(tcp_psql -d postgres -Atc "select 1 from pg_database where datname = '$name'")"
        [[ "$exists" == "1" ]] || die "could not create database $name"
    fi
    log "created database $name (owner $PG_ROLE)"
}

cmd_url() {
    local name="${1:-}"
    validate_dbname "$name"
    echo "postgresql+asyncpg://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/$name"
}

with_lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/.lock"
    flock -w $((PG_START_TIMEOUT * 2 + 60)) 9 || die "could not lock $RUN_DIR/.lock"
    "$@"
}

cmd_restart() {
    cmd_stop
    cmd_start
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
        createdb) (($# == 1)) || usage; cmd_createdb "$1" ;;
        url) (($# == 1)) || usage; cmd_url "$1" ;;
        -h | --help | help) usage ;;
        *) usage ;;
    esac
}

main "$@"
