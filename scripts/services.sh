# Private Redis and PostgreSQL servers for the token storage tests and benchmark.
#
# Source this file, then call `services_start`:
#
#     source scripts/services.sh
#     services_start
#
# It installs what is missing (Debian: `apt-get install redis-server postgresql`), starts
# its own Redis and PostgreSQL on free loopback ports with their data in a temporary
# directory (never the system services), exports
#
#     PORTCULLIS_TEST_REDIS_URL      redis://127.0.0.1:<port>/0
#     PORTCULLIS_TEST_POSTGRES_URL   postgres://portcullis@127.0.0.1:<port>/portcullis
#
# and registers `services_stop` on EXIT, which stops both servers and removes the directory,
# whether the caller succeeds or fails. A variable that is already set is kept and its
# server not started (point the tests at your own servers that way). With
# PORTCULLIS_SKIP_SERVICES=1 nothing is started, and the tests that need a server are
# skipped rather than failed.

services_log() { printf 'services: %s\n' "$*" >&2; }

# The directory holding PostgreSQL's server programs (initdb, pg_ctl, postgres), or nothing.
services_pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
        echo "$dir"
    elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"
    fi
}

# Installs redis-server and postgresql from the distribution when their programs are missing.
services_install() {
    local missing=()
    command -v redis-server >/dev/null || missing+=(redis-server)
    [[ -n "$(services_pg_bindir)" ]] || missing+=(postgresql)
    ((${#missing[@]} == 0)) && return 0
    if ! command -v apt-get >/dev/null; then
        services_log "missing ${missing[*]} and no apt-get: install them, or set PORTCULLIS_TEST_*_URL"
        return 1
    fi
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    services_log "installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# A TCP port on 127.0.0.1 that nothing listens on (a later bind may still race; callers retry).
services_free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# Waits until something accepts connections on 127.0.0.1:$1 (at most $2 seconds).
services_wait_port() {
    local deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

services_start_redis() {
    local dir="$SERVICES_DIR/redis" port
    mkdir -p "$dir"
    for _ in 1 2 3; do
        port=$(services_free_port) || return 1
        redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
            --daemonize no --logfile "$dir/redis.log" &
        SERVICES_REDIS_PID=$!
        if services_wait_port "$port" 10 && kill -0 "$SERVICES_REDIS_PID" 2>/dev/null; then
            export PORTCULLIS_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
            services_log "redis on 127.0.0.1:$port (pid $SERVICES_REDIS_PID)"
            return 0
        fi
        kill "$SERVICES_REDIS_PID" 2>/dev/null || true
        wait "$SERVICES_REDIS_PID" 2>/dev/null || true
        SERVICES_REDIS_PID=
    done
    services_log "redis did not start; its log:"
    cat "$dir/redis.log" >&2 || true
    return 1
}

services_start_postgres() {
    local bin dir="$SERVICES_DIR/postgres" port
    bin=$(services_pg_bindir)
    [[ -n "$bin" ]] || { services_log "no PostgreSQL server programs found"; return 1; }
    mkdir -p "$dir"
    # PostgreSQL refuses to run as root: run it as the `postgres` account (or `nobody`).
    local as=()
    if [[ $(id -u) -eq 0 ]]; then
        local user=postgres
        id -u "$user" >/dev/null 2>&1 || user=nobody
        chown -R "$user" "$dir"
        as=(runuser -u "$user" --)
    fi
    SERVICES_PG_AS=("${as[@]}")
    SERVICES_PG_BIN=$bin
    "${as[@]}" "$bin/initdb" -D "$dir/data" --username=portcullis --auth=trust \
        --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
        services_log "initdb failed:"
        cat "$dir/initdb.log" >&2
        return 1
    }
    for _ in 1 2 3; do
        port=$(services_free_port) || return 1
        if "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null; then
            SERVICES_PG_DATA="$dir/data"
            "${as[@]}" "$bin/psql" -h 127.0.0.1 -p "$port" -U portcullis -d postgres -qAt \
                -c "CREATE DATABASE portcullis" >/dev/null
            export PORTCULLIS_TEST_POSTGRES_URL="postgres://portcullis@127.0.0.1:$port/portcullis"
            services_log "postgres on 127.0.0.1:$port"
            return 0
        fi
    done
    services_log "postgres did not start; its log:"
    cat "$dir/postgres.log" >&2 || true
    return 1
}

# Stops what services_start started and removes its directory. Safe to call twice.
services_stop() {
    if [[ -n "${SERVICES_REDIS_PID:-}" ]]; then
        kill "$SERVICES_REDIS_PID" 2>/dev/null || true
        wait "$SERVICES_REDIS_PID" 2>/dev/null || true
        SERVICES_REDIS_PID=
    fi
    if [[ -n "${SERVICES_PG_DATA:-}" ]]; then
        "${SERVICES_PG_AS[@]}" "$SERVICES_PG_BIN/pg_ctl" -D "$SERVICES_PG_DATA" -m immediate \
            stop >/dev/null 2>&1 || true
        SERVICES_PG_DATA=
    fi
    if [[ -n "${SERVICES_DIR:-}" && -d "$SERVICES_DIR" ]]; then
        rm -rf "$SERVICES_DIR"
        SERVICES_DIR=
    fi
}

# Provisions and starts the servers whose URL variable is not set yet.
services_start() {
    if [[ "${PORTCULLIS_SKIP_SERVICES:-}" == 1 ]]; then
        services_log "PORTCULLIS_SKIP_SERVICES=1: no Redis or PostgreSQL; their tests are skipped"
        return 0
    fi
    local need_redis=1 need_postgres=1
    [[ -n "${PORTCULLIS_TEST_REDIS_URL:-}" ]] && need_redis=0
    [[ -n "${PORTCULLIS_TEST_POSTGRES_URL:-}" ]] && need_postgres=0
    ((need_redis || need_postgres)) || return 0
    services_install
    SERVICES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-services.XXXXXX")
    chmod 755 "$SERVICES_DIR"
    trap services_stop EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    ((need_redis == 0)) || services_start_redis
    ((need_postgres == 0)) || services_start_postgres
}
