#!/usr/bin/env bash
# Runs the test suite against a private Redis on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/terrarium-test.XXXXXX)
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" --daemonize yes --pidfile "$tmp/redis.pid" >/dev/null
cleanup() { kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
export REDIS_URL="redis://127.0.0.1:$port/0"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
exit $rc
