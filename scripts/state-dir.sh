#!/usr/bin/env bash
# Prepares the dashboard's state directory: scripts/state-dir.sh DIR WEB_USER.
# The web user reads the secret key (and Redis's secret) and owns its
# database and the uploads; root keeps everything else; other local accounts
# get nothing. Run again, it repairs an older installation (a group-writable
# tree, the database beside the key).
set -euo pipefail
dir=$1
user=$2
umask 077

mkdir -p "$dir/db" "$dir/uploads"
# SQLite writes its journal beside the database: the database gets a directory of its own.
for f in db.sqlite3 db.sqlite3-wal db.sqlite3-shm; do
  if [ -e "$dir/$f" ] && [ ! -e "$dir/db/$f" ]; then mv "$dir/$f" "$dir/db/$f"; fi
done

for entry in "$dir"/* "$dir"/.[!.]*; do
  [ -e "$entry" ] || continue
  case ${entry##*/} in
    db|uploads) chown -R "$user:$user" "$entry"; chmod -R u=rwX,go= "$entry" ;;
    secret_key|redis.secret) chown root:"$user" "$entry"; chmod 0640 "$entry" ;;
    redis-socket) chown root:"$user" "$entry"; chmod 0750 "$entry" ;;
    staticfiles) chown -R root:"$user" "$entry"; chmod -R u=rwX,g=rX,o= "$entry" ;;
    *) chown -R root:root "$entry"; chmod -R go= "$entry" ;;
  esac
done
chown root:"$user" "$dir"
chmod 0750 "$dir"
