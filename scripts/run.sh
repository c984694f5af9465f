#!/usr/bin/env bash
# `make run`: migrations, first admin, demo image, then Redis (when none answers),
# the web server (unprivileged), the runtime worker and the node agent (root),
# all in the foreground. Ctrl-C stops them all. Running it again reuses what exists.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "error: make run needs root: the runtime worker creates namespaces, overlay mounts and cgroups for each container (the web server itself drops to an unprivileged user)." >&2
  exit 1
fi

PORT=${PORT:-8000}
WEB_USER=${WEB_USER:-terrarium}
export TERRARIUM_STATE_DIR=${TERRARIUM_STATE_DIR:-$PWD/.state}
export TERRARIUM_REDIS_PORT=${TERRARIUM_REDIS_PORT:-6379}
export NODE_NAME=${NODE_NAME:-$(hostname)}
# The app proxy sends a browser without its cookie to the dashboard, as browsers reach it.
export TERRARIUM_DASHBOARD_URL=${TERRARIUM_DASHBOARD_URL:-http://127.0.0.1:$PORT}
PY=$PWD/.venv/bin/python
# Root's processes write files for root alone; the state directory grants the web user what it needs.
umask 077

id -u "$WEB_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$WEB_USER"
scripts/state-dir.sh "$TERRARIUM_STATE_DIR" "$WEB_USER"

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

# A REDIS_URL from the admin is used as given; otherwise Terrarium runs its own,
# which answers only to the secret the processes read from the state directory.
if [ -z "${REDIS_URL:-}" ]; then
  echo "run: starting redis-server on 127.0.0.1:$TERRARIUM_REDIS_PORT"
  scripts/redis.sh "$TERRARIUM_STATE_DIR" "$WEB_USER" "$TERRARIUM_REDIS_PORT" &
  pids+=($!)
  for _ in $(seq 50); do
    [ "$(REDISCLI_AUTH=$(cat "$TERRARIUM_STATE_DIR/redis.secret" 2>/dev/null) redis-cli -p "$TERRARIUM_REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
    sleep 0.1
  done
fi

"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py bootstrap
# The database and the secret key, when the commands above made them, are root's until handed over.
scripts/state-dir.sh "$TERRARIUM_STATE_DIR" "$WEB_USER"

"$PY" -W "ignore:You're running the worker with superuser" -m celery -A dashboard worker -Q "node.$NODE_NAME" --pool threads --concurrency 4 \
  --hostname "$NODE_NAME@%h" --loglevel WARNING --without-gossip --without-mingle &
pids+=($!)
"$PY" manage.py node_agent &
pids+=($!)
setpriv --reuid "$WEB_USER" --regid "$WEB_USER" --init-groups --inh-caps=-all \
  "$PY" -m dashboard.webserver -b 127.0.0.1 -p "$PORT" &
pids+=($!)

echo "Terrarium is running on http://127.0.0.1:$PORT, containers' apps on http://c<id>-<port>.localhost:${TERRARIUM_APPS_PORT:-8001} (Ctrl-C stops it)"
wait -n "${pids[@]}" || true
