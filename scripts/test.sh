#!/usr/bin/env bash
# Runs the test suite against a private Redis on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/terrarium-test.XXXXXX)
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# As `make run`'s, the suite's Redis answers only to its secret (in a root-only config, not on a command line).
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077; printf 'port %s\nbind 127.0.0.1\nrequirepass %s\nsave ""\nappendonly no\ndir %s\ndaemonize yes\npidfile %s\n' \
  "$port" "$secret" "$tmp" "$tmp/redis.pid" > "$tmp/redis.conf")
redis-server "$tmp/redis.conf" >/dev/null
cleanup() { kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
for _ in $(seq 50); do [ "$(REDISCLI_AUTH=$secret redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
export REDIS_URL="redis://:$secret@127.0.0.1:$port/0"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
exit $rc
