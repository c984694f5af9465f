#!/usr/bin/env bash
# Idempotent set-up: system packages, the virtualenv, npm packages.
# Quiet and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "error: Terrarium's set-up needs root: it installs system packages and its runtime creates namespaces, mounts and cgroups." >&2
  exit 1
fi

# chromium and fonts-dejavu-core: the end-to-end browser test (Playwright drives Debian's chromium).
# python3-venv: the virtualenv; util-linux: setpriv, which drops the web server's privileges.
# e2fsprogs: mkfs.ext4 formats the cgroup v2 VM's scratch disk.
# postgresql: the PostgreSQL test starts a private server from its binaries.
APT_PACKAGES=(busybox-static redis-server postgresql runc crun chromium fonts-dejavu-core qemu-system-x86 linux-image-amd64 libseccomp2 iproute2 zstd xz-utils bzip2 python3-venv util-linux e2fsprogs umoci skopeo docker-registry nftables conntrack)
# A Node.js from elsewhere (NodeSource) bundles npm and conflicts with Debian's npm package.
command -v npm >/dev/null || APT_PACKAGES+=(nodejs npm)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
# Python 3.11's venv comes with setuptools, whose distutils-precedence.pth
# every interpreter start runs: ~0.5 ms of each CLI command. Nothing here
# needs setuptools at run time, and pip builds in isolated environments.
if compgen -G ".venv/lib/python3*/site-packages/distutils-precedence.pth" >/dev/null; then
  echo "setup: removing setuptools from .venv"
  .venv/bin/python -m pip uninstall -qq -y setuptools
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

if [ -f package.json ]; then
  nstamp=node_modules/.package-lock.sha256
  nwant=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$nstamp" 2>/dev/null)" != "$nwant" ]; then
    echo "setup: installing npm packages"
    if [ -f package-lock.json ]; then npm ci --silent --no-audit --no-fund; else npm install --silent --no-audit --no-fund; fi
    echo "$nwant" > "$nstamp"
  fi
fi

# Byte-compile the project: with PYTHONDONTWRITEBYTECODE set (as on some
# machines) every CLI start would otherwise recompile the runtime from source.
.venv/bin/python -m compileall -q -j 0 runtime dashboard >/dev/null

# The id ranges of containers' user namespaces (runtime/id_ranges.py): one
# entry in /etc/subuid and /etc/subgid, under a name that is no account.
USERNS_USER=${TERRARIUM_USERNS_USER:-terrarium-userns}
USERNS_START=${TERRARIUM_USERNS_START:-1000000}
USERNS_COUNT=${TERRARIUM_USERNS_COUNT:-65536000}
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  grep -q "^$USERNS_USER:" "$f" && continue
  # Another entry's range must not overlap ours: its ids would be shared.
  if awk -F: -v s="$USERNS_START" -v c="$USERNS_COUNT" 'NF == 3 && $2 < s + c && s < $2 + $3 { found = 1 } END { exit !found }' "$f"; then
    echo "error: $f already has an entry overlapping ids $USERNS_START..$((USERNS_START + USERNS_COUNT - 1)); set TERRARIUM_USERNS_START" >&2
    exit 1
  fi
  echo "setup: registering $USERNS_COUNT ids from $USERNS_START for user namespaces in $f"
  echo "$USERNS_USER:$USERNS_START:$USERNS_COUNT" >> "$f"
done
