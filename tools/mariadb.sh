#!/bin/bash
# tools/mariadb.sh -- a private MariaDB for tucai: its own datadir and Unix
# socket, no TCP, no system service touched.  The OS user that runs this
# connects as the matching MariaDB user through unix_socket authentication.
#
#   tools/mariadb.sh init  DATADIR              create a fresh datadir
#   tools/mariadb.sh start DATADIR RUNDIR       start; socket RUNDIR/mysqld.sock
#                                               (RUNDIR is made 0700: mariadbd
#                                               creates its socket 0777, the
#                                               directory keeps others out)
#   tools/mariadb.sh run   DATADIR RUNDIR       the same in the foreground (exec)
#   tools/mariadb.sh stop  RUNDIR               stop (waits for exit)
#   tools/mariadb.sh setup RUNDIR DB USER PASSWORD   database + user (idempotent)
#   tools/mariadb.sh template FILE.tar          init + setup a reusable datadir,
#                                               archived (extract it per instance;
#                                               an archive can't be started by mistake)
set -euo pipefail

ME=$(id -un)
# small and quick: the tests start dozens of these
OPTS=(--no-defaults --skip-networking --skip-log-bin --innodb-buffer-pool-size=32M
      --innodb-log-file-size=8M --innodb-flush-log-at-trx-commit=2
      --innodb-doublewrite=0 --skip-name-resolve --character-set-server=utf8mb4
      --collation-server=utf8mb4_unicode_ci --max-connections=200 --user="$ME")

cmd=${1:-}; shift || true
case "$cmd" in
init)
    dd=$1
    mkdir -p "$dd"
    mariadb-install-db --no-defaults --datadir="$dd" --user="$ME" \
        --auth-root-authentication-method=socket --skip-test-db \
        --innodb-log-file-size=8M >"$dd.install.log" 2>&1 \
        || { cat "$dd.install.log" >&2; exit 1; }
    ;;
start)
    dd=$(realpath "$1"); run=$(mkdir -p "$2" && realpath "$2")
    chmod 700 "$run"
    sock=$run/mysqld.sock
    if [ -S "$sock" ] && mariadb --no-defaults -S "$sock" -u "$ME" -e 'SELECT 1' >/dev/null 2>&1; then
        exit 0      # already running
    fi
    rm -f "$sock" "$run/mysqld.pid"
    mariadbd "${OPTS[@]}" --datadir="$dd" --socket="$sock" \
        --pid-file="$run/mysqld.pid" --log-error="$run/mysqld.err" \
        --tmpdir="$run" >/dev/null 2>&1 &
    for _ in $(seq 1 300); do
        if mariadb --no-defaults -S "$sock" -u "$ME" -e 'SELECT 1' >/dev/null 2>&1; then
            chmod 660 "$sock"
            exit 0
        fi
        sleep 0.1
    done
    echo "mariadb did not start; see $run/mysqld.err" >&2
    tail -20 "$run/mysqld.err" >&2 || true
    exit 1
    ;;
run)
    dd=$(realpath "$1"); run=$(mkdir -p "$2" && realpath "$2")
    chmod 700 "$run"
    rm -f "$run/mysqld.sock" "$run/mysqld.pid"
    # the socket itself not world-writable either, once the server made it
    ( for _ in $(seq 1 600); do
          [ -S "$run/mysqld.sock" ] && { chmod 660 "$run/mysqld.sock"; exit 0; }
          sleep 0.05
      done ) &
    exec mariadbd "${OPTS[@]}" --datadir="$dd" --socket="$run/mysqld.sock" \
        --pid-file="$run/mysqld.pid" --log-error="$run/mysqld.err" --tmpdir="$run"
    ;;
stop)
    run=$1
    [ -f "$run/mysqld.pid" ] || exit 0
    pid=$(cat "$run/mysqld.pid")
    kill -TERM "$pid" 2>/dev/null || exit 0
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || exit 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    ;;
setup)
    run=$1 db=$2 user=$3 pw=$4
    mariadb --no-defaults -S "$run/mysqld.sock" -u "$ME" <<SQL
CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$pw';
ALTER USER '$user'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON \`$db\`.* TO '$user'@'localhost';
FLUSH PRIVILEGES;
SQL
    ;;
template)
    out=$1
    tmp=$(mktemp -d "${out}.tmp.XXXXXX")
    "$0" init "$tmp/data"
    "$0" start "$tmp/data" "$tmp/run"
    "$0" setup "$tmp/run" tucai tucai tucai
    "$0" stop "$tmp/run"
    tar -C "$tmp/data" -cf "$tmp/t.tar" .
    mv "$tmp/t.tar" "$out"
    rm -rf "$tmp"
    ;;
*)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
