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
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export NODE_NAME=${NODE_NAME:-$(hostname)}
PY=$PWD/.venv/bin/python
umask 002

id -u "$WEB_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$WEB_USER"
mkdir -p "$TERRARIUM_STATE_DIR/uploads"
# The web server (group $WEB_USER) writes the database and uploads; the root worker and agent share them.
chgrp -R "$WEB_USER" "$TERRARIUM_STATE_DIR"
chmod -R g+rwX "$TERRARIUM_STATE_DIR"
chmod g+s "$TERRARIUM_STATE_DIR" "$TERRARIUM_STATE_DIR/uploads"

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

redis_host_port=${REDIS_URL#redis://}
redis_host_port=${redis_host_port%%/*}
redis_port=${redis_host_port##*:}
if ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
  echo "run: starting redis-server on port $redis_port"
  mkdir -p "$TERRARIUM_STATE_DIR/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$TERRARIUM_STATE_DIR/redis" --save 60 1 \
    --logfile "$TERRARIUM_STATE_DIR/redis/redis.log" &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py bootstrap
chgrp -R "$WEB_USER" "$TERRARIUM_STATE_DIR"
chmod -R g+rwX "$TERRARIUM_STATE_DIR"

"$PY" -W "ignore:You're running the worker with superuser" -m celery -A dashboard worker -Q "node.$NODE_NAME" --pool threads --concurrency 4 \
  --hostname "$NODE_NAME@%h" --loglevel WARNING --without-gossip --without-mingle &
pids+=($!)
"$PY" manage.py node_agent &
pids+=($!)
setpriv --reuid "$WEB_USER" --regid "$WEB_USER" --init-groups --inh-caps=-all \
  "$PY" -m daphne -b 127.0.0.1 -p "$PORT" dashboard.asgi:application &
pids+=($!)

echo "Terrarium is running on http://127.0.0.1:$PORT (Ctrl-C stops it)"
wait -n "${pids[@]}" || true
