#!/usr/bin/env bash
# Smoke test of the deploy/ layout, all on 127.0.0.1 high ports:
#   nginx (Debian's package; installed with apt-get when missing)
#     /streams/ -> uvicorn (async pool)     everything else -> gunicorn (sync pool)
#   both pools share the Redis broker (SMOKE_REDIS_URL, default redis://127.0.0.1:6379/0,
#   keys under a prefix unique to this run, deleted at the end).
# Checks: a page through nginx (sync pool), each path served by its pool, and an
# event POSTed through nginx reaching an SSE client connected through nginx while
# the stream stays open (nothing buffered). Stops every process it started by PID.
# Prints "smoke: ok" and exits 0 on success. Every wait is bounded.
#
#   bash deploy/smoke.sh             PYTHON=/path/to/python (default: .venv/bin/python)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x $PYTHON ]] || PYTHON=$(command -v python3)
REDIS_URL=${SMOKE_REDIS_URL:-redis://127.0.0.1:6379/0}
START_LIMIT=${SMOKE_START_LIMIT:-20}   # seconds for each server to answer
EVENT_LIMIT=${SMOKE_EVENT_LIMIT:-10}   # seconds for the event to arrive

log() { printf 'smoke: %s\n' "$*"; }
fail() {
    printf 'smoke: FAILED: %s\n' "$*" >&2
    for f in "$WORK"/*.log "$WORK"/sse.out; do
        [[ -s $f ]] && { printf '\n--- %s\n' "$f" >&2; tail -n 40 "$f" >&2; }
    done
    exit 1
}

# -- nginx ------------------------------------------------------------------------
find_nginx() { command -v nginx || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true; }
NGINX=$(find_nginx)
if [[ -z $NGINX ]]; then
    log "nginx is missing: installing Debian's package"
    [[ $(id -u) -eq 0 ]] || { echo "smoke: nginx is missing; install it (apt-get install nginx) or run as root" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get install -y -q nginx >/dev/null ||
        { timeout 120 apt-get update -q >/dev/null && timeout 300 apt-get install -y -q nginx >/dev/null; }
    NGINX=$(find_nginx)
    [[ -n $NGINX ]] || { echo "smoke: apt-get did not install nginx" >&2; exit 1; }
fi

# -- a work folder, free ports, cleanup ---------------------------------------------
WORK=$(mktemp -d /tmp/kolben-smoke.XXXXXX)
chmod 755 "$WORK"   # nginx workers run as another user when started by root
PIDS=()
PREFIX="kolben:smoke:$$:$RANDOM:"

cleanup() {
    local pid i
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for ((i = 0; i < 100; i++)); do   # 10 s each at most
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    "$PYTHON" - "$REDIS_URL" "$PREFIX" <<'PY' || true
import sys, redis
r = redis.Redis.from_url(sys.argv[1], socket_timeout=5)
keys = list(r.scan_iter(match=sys.argv[2] + "*"))
if keys:
    r.delete(*keys)
PY
    [[ -n ${SMOKE_KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT

read -r SYNC_PORT ASYNC_PORT NGINX_PORT < <("$PYTHON" - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
PY
)
log "ports: nginx $NGINX_PORT, sync pool $SYNC_PORT, async pool $ASYNC_PORT"

export KOLBEN_BROKER_URL=$REDIS_URL
export KOLBEN_BROKER_KEY_PREFIX=$PREFIX
export KOLBEN_SECRET_KEY="smoke-$RANDOM$RANDOM"
unset KOLBEN_APP FLASK_APP

# -- the pools --------------------------------------------------------------------
KOLBEN_SYNC_BIND=127.0.0.1:$SYNC_PORT KOLBEN_SYNC_WORKERS=2 \
    "$PYTHON" -m gunicorn -c deploy/gunicorn.conf.py --chdir deploy app:app \
    >"$WORK/sync.log" 2>&1 </dev/null &
PIDS+=($!)
"$PYTHON" -m uvicorn app:app --app-dir deploy --host 127.0.0.1 --port "$ASYNC_PORT" \
    --workers 1 --timeout-graceful-shutdown 2 --log-level warning --no-access-log \
    >"$WORK/async.log" 2>&1 </dev/null &
PIDS+=($!)

# -- nginx, with the site file of the layout -----------------------------------------
sed -e "s/127\.0\.0\.1:8000;  # smoke: sync pool/127.0.0.1:$SYNC_PORT;/" \
    -e "s/127\.0\.0\.1:8001;  # smoke: async pool/127.0.0.1:$ASYNC_PORT;/" \
    -e "s/listen 80;  # smoke: nginx/listen 127.0.0.1:$NGINX_PORT;/" \
    deploy/nginx/kolben.conf >"$WORK/kolben.conf"
grep -q "127.0.0.1:$SYNC_PORT;" "$WORK/kolben.conf" && grep -q "127.0.0.1:$ASYNC_PORT;" "$WORK/kolben.conf" &&
    grep -q "listen 127.0.0.1:$NGINX_PORT;" "$WORK/kolben.conf" ||
    fail "deploy/nginx/kolben.conf lost its 'smoke:' markers"
cat >"$WORK/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $WORK/tmp_body;
    proxy_temp_path $WORK/tmp_proxy;
    fastcgi_temp_path $WORK/tmp_fastcgi;
    uwsgi_temp_path $WORK/tmp_uwsgi;
    scgi_temp_path $WORK/tmp_scgi;
    include $WORK/kolben.conf;
}
CONF
"$NGINX" -t -q -e "$WORK/nginx.log" -p "$WORK" -c "$WORK/nginx.conf" || fail "nginx -t refused the configuration"
"$NGINX" -e "$WORK/nginx.log" -p "$WORK" -c "$WORK/nginx.conf" >>"$WORK/nginx.log" 2>&1 </dev/null &
PIDS+=($!)

# wait_for URL: until it answers 200, within START_LIMIT seconds.
wait_for() {
    local deadline=$((SECONDS + START_LIMIT))
    until curl -fsS --max-time 2 -o /dev/null "$1" 2>/dev/null; do
        for pid in "${PIDS[@]}"; do
            kill -0 "$pid" 2>/dev/null || fail "a server exited (pid $pid) before $1 answered"
        done
        ((SECONDS < deadline)) || fail "$1 did not answer within ${START_LIMIT}s"
        sleep 0.2
    done
}
wait_for "http://127.0.0.1:$SYNC_PORT/healthz"
wait_for "http://127.0.0.1:$ASYNC_PORT/streams/healthz"
wait_for "http://127.0.0.1:$NGINX_PORT/healthz"
BASE="http://127.0.0.1:$NGINX_PORT"

# -- checks through nginx ---------------------------------------------------------------
curl -fsS --max-time 5 "$BASE/" | grep -q "<h1>kolben deploy demo</h1>" || fail "the page did not come through nginx"
log "page through nginx: ok"
[[ $(curl -fsS --max-time 5 "$BASE/healthz") == *'"door":"wsgi"'* ]] || fail "/healthz was not served by the sync pool"
[[ $(curl -fsS --max-time 5 "$BASE/streams/healthz") == *'"door":"asgi"'* ]] || fail "/streams/ was not served by the async pool"
log "routing: / -> gunicorn (WSGI), /streams/ -> uvicorn (ASGI): ok"

curl -sN --max-time $((EVENT_LIMIT + 10)) -D "$WORK/sse.headers" "$BASE/streams/demo" >"$WORK/sse.out" 2>/dev/null &
CLIENT=$!
PIDS+=("$CLIENT")
deadline=$((SECONDS + EVENT_LIMIT))
until [[ -s $WORK/sse.out ]]; do   # the stream's opening comment
    ((SECONDS < deadline)) || fail "the event stream did not open through nginx"
    sleep 0.1
done
grep -qi '^content-type: text/event-stream' "$WORK/sse.headers" || fail "the stream is not text/event-stream"

TEXT="hello from smoke $$"
ID=$(curl -fsS --max-time 5 -H 'Content-Type: application/json' -d "{\"text\": \"$TEXT\"}" "$BASE/events/demo" |
    "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["id"])') || fail "publishing through nginx failed"
deadline=$((SECONDS + EVENT_LIMIT))
until grep -q "$TEXT" "$WORK/sse.out"; do
    ((SECONDS < deadline)) || fail "the event $ID did not reach the SSE client within ${EVENT_LIMIT}s (buffered?)"
    kill -0 "$CLIENT" 2>/dev/null || fail "the SSE client's connection closed before the event came"
    sleep 0.05
done
grep -q "^id: $ID\$" "$WORK/sse.out" || fail "the event arrived without its id ($ID)"
kill -0 "$CLIENT" 2>/dev/null || fail "the event came only with the end of the stream (buffered)"
log "event $ID published through nginx (sync pool) reached the SSE client through nginx (async pool), stream still open: ok"
log ok
