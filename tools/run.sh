#!/bin/bash
# tools/run.sh -- `make run`: the whole of tucai on 127.0.0.1:8080 with its
# state under ./var (kept across runs).  Ctrl-C stops everything it started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VAR=$ROOT/var
PORT=${TUCAI_PORT:-8080}
SANDBOX_PORT=${TUCAI_SANDBOX_PORT:-8089}
CHILDREN=${TUCAI_CHILDREN:-4}
B=$ROOT/build
RUN=$VAR/run

mkdir -p "$RUN" "$VAR/conf" "$VAR/files" "$VAR/nginx/logs" "$VAR/nginx/tmp"
chmod 755 "$VAR" "$RUN" "$VAR/files"

pids=()
cleanup() {
    trap - INT TERM EXIT
    echo
    echo "stopping..."
    kill -QUIT "$(cat "$VAR/nginx/nginx.pid" 2>/dev/null)" 2>/dev/null || true
    kill -TERM "$(cat "$RUN/tucai-worker.pid" 2>/dev/null)" 2>/dev/null || true
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    tools/mariadb.sh stop "$RUN/db" || true
    echo "stopped; data kept in $VAR"
}
trap cleanup INT TERM EXIT

tools/gen-secrets.sh "$VAR/secrets"

# private MariaDB: created once, then reused (the data survives runs)
if [ ! -d "$VAR/db/mysql" ]; then
    echo "creating the private MariaDB in $VAR/db ..."
    tools/mariadb.sh init "$VAR/db"
fi
# its socket in a directory of its own (0700): mariadbd makes it 0777
tools/mariadb.sh start "$VAR/db" "$RUN/db"
tools/mariadb.sh setup "$RUN/db" tucai tucai "$(cat "$VAR/secrets/db_password")"

SANDBOX_URL=http://127.0.0.1:$SANDBOX_PORT
if [ -f tools/wechat-sandbox.py ]; then
    /usr/bin/python3 tools/wechat-sandbox.py --port "$SANDBOX_PORT" --keys "$VAR/secrets" \
        --state "$VAR/sandbox.state" >>"$RUN/sandbox.log" 2>&1 &
    pids+=($!)
fi

tools/render-conf conf/worker.ini.tmpl "$VAR/conf/worker.ini" \
    POOL_SOCK1="$RUN/pool1.sock" POOL_SOCK2="$RUN/pool2.sock" RUN_DIR="$RUN" \
    DB_SOCKET="$RUN/db/mysqld.sock" FILES_DIR="$VAR/files" \
    KEY_FILE="$VAR/secrets/token_keys" SECRETS_DIR="$VAR/secrets" \
    SANDBOX_URL="$SANDBOX_URL" ROOT="$ROOT" CHILDREN="$CHILDREN" \
    NGINX_URL="http://127.0.0.1:$PORT" \
    POOL_GROUP="$(if [ "$(id -u)" = 0 ]; then echo nogroup; else id -gn; fi)"

# The sandbox's pages stay on the sandbox's own port: proxied on the public
# port, its /sandbox/pay would let any student mark an order paid.  The H5
# demo links to $SANDBOX_URL/sandbox/pay instead.

P=$VAR/nginx
tools/render-conf conf/nginx.conf.tmpl "$P/nginx.conf" \
    ROOT="$ROOT" BUILD="$B" MODULE_SO="$B/ngx_http_tucai_module.so" PREFIX="$P" \
    RUN_DIR="$RUN" PORT="$PORT" LISTEN="127.0.0.1:$PORT" \
    POOL_SOCK1="$RUN/pool1.sock" POOL_SOCK2="$RUN/pool2.sock" \
    KEY_FILE="$VAR/secrets/token_keys" FILES_DIR="$VAR/files" \
    ERROR_LOG="$P/logs/error.log" ACCESS_LOG="$P/logs/access.log" \
    PID_FILE="$P/nginx.pid" TMP_DIR="$P/tmp" WWW_DIR="$ROOT/www" \
    NGINX_EXTRA_HTTP="" NGINX_EXTRA_SERVER="" EXTRA_HTTP="" \
    EXTRA_SERVER=""

"$B/tucai-worker" -c "$VAR/conf/worker.ini" --foreground 2>>"$RUN/pool.stderr" &
pids+=($!)
for _ in $(seq 1 100); do
    [ -S "$RUN/pool1.sock" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "the pool failed to start:"; tail -20 "$RUN/pool.stderr" "$RUN/tucai-worker.log" 2>/dev/null; exit 1; }
    sleep 0.1
done

demo_note=""
if "$B/tucai-worker" -c "$VAR/conf/worker.ini" admin demo "$VAR/demo.json" \
       --base-url "http://127.0.0.1:$PORT" --sandbox-url "$SANDBOX_URL" >"$RUN/demo.log" 2>&1; then
    demo_note="demo school, teacher and codes: $VAR/demo.json"
else
    demo_note="(no demo seeded: $(head -1 "$RUN/demo.log"))"
fi

/usr/sbin/nginx -p "$P/" -c "$P/nginx.conf" -g "daemon off; pid $P/nginx.pid; error_log $P/logs/error.log info;" &
pids+=($!)
for _ in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/api/v1/health" && break
    sleep 0.1
done

cat <<MSG

  tucai is running.
    health:      http://127.0.0.1:$PORT/api/v1/health
    schools:     http://127.0.0.1:$PORT/api/v1/schools
    back office: http://127.0.0.1:$PORT/admin/
    H5 student:  http://127.0.0.1:$PORT/h5/  (a collection code from var/demo.json)
    $demo_note
    WeChat sandbox: $SANDBOX_URL  (demo payments: $SANDBOX_URL/sandbox/pay)
    logs:        $RUN/tucai-worker.log  $P/logs/error.log
  Ctrl-C stops it all (data stays in ./var).

MSG
curl -s "http://127.0.0.1:$PORT/api/v1/health" && echo || true
wait -n "${pids[@]}" || true
