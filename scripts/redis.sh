#!/usr/bin/env bash
# Runs Terrarium's own Redis in the foreground: scripts/redis.sh STATE_DIR WEB_USER PORT.
# Nothing answers without the secret: a password generated once into
# STATE_DIR/redis.secret (root and the web user's group may read it), given
# to redis-server in a root-only config file, never on a command line. It
# listens on the loopback only, keeps its data root-only in STATE_DIR/redis,
# and refuses to start where something already answers: Terrarium never
# adopts a Redis it did not start.
set -euo pipefail
dir=$1
user=$2
port=$3
umask 077

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "error: something already listens on 127.0.0.1:$port; Terrarium starts its own Redis there and will not adopt another (stop it, or set TERRARIUM_REDIS_PORT, or give REDIS_URL)" >&2
  exit 1
fi

secret=$dir/redis.secret
if [ ! -s "$secret" ]; then
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$secret.tmp"
  mv "$secret.tmp" "$secret"
fi
chown root:"$user" "$secret"
chmod 0640 "$secret"

mkdir -p "$dir/redis"
chmod 0700 "$dir/redis"
cat > "$dir/redis/redis.conf" <<CONF
port $port
bind 127.0.0.1 -::1
protected-mode yes
requirepass $(cat "$secret")
dir $dir/redis
save 60 1
logfile $dir/redis/redis.log
CONF
exec redis-server "$dir/redis/redis.conf"
