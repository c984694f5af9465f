"""The dashboard on PostgreSQL, as several nodes sharing one database run it.

A private server (initdb + pg_ctl from Debian's packages) listens on a free
port; manage.py and the services run against it in subprocesses whose
DATABASE_URL names it, while this process keeps its SQLite test database."""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("postgresql_scenario.py")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*cmd: str) -> subprocess.CompletedProcess:
    # initdb and the server refuse to run as root.
    return subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def postgres_server():
    """.database(name) -> the DATABASE_URL of a new, empty database on a private server."""
    bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
    tmp = Path(tempfile.mkdtemp(prefix="terrarium-pg-"))
    data, port = tmp / "data", _free_port()

    def database(name: str) -> str:
        _as_postgres(str(bindir / "createdb"), "-h", str(tmp), "-p", str(port), name)
        return f"postgres://postgres@127.0.0.1:{port}/{name}"

    try:
        shutil.chown(tmp, "postgres", "postgres")
        _as_postgres(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
        # fsync off: the server lives only as long as the module.
        options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
        _as_postgres(str(bindir / "pg_ctl"), "start", "-w", "-D", str(data), "-l", str(tmp / "log"), "-o", options)
        yield SimpleNamespace(database=database)
    finally:
        if (data / "postmaster.pid").exists():
            _as_postgres(str(bindir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(data))
        shutil.rmtree(tmp)


def _run(url: str, *args: str, script: str | None = None) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="dashboard.settings",
        PYTHONPATH=str(REPO),
        REDIS_URL=settings.REDIS_URL,
        # A queue no worker consumes: the test's launches must never reach a runtime.
        NODE_NAME=f"pg-test-{uuid.uuid4().hex[:8]}",
        TERRARIUM_TESTING="1",
    )
    cmd = [sys.executable, script, *args] if script else [sys.executable, "manage.py", *args]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"{' '.join(cmd[1:])} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def migrated(postgres_server):
    url = postgres_server.database("terrarium")
    _run(url, "migrate", "--no-input")
    return url


def test_migrate_applies_every_migration_on_postgresql(migrated):
    _run(migrated, "migrate", "--check")
    plan = _run(migrated, "showmigrations", "--plan").stdout
    assert "[X]" in plan and "[ ]" not in plan, plan


def test_system_check_passes_on_postgresql(postgres_server):
    out = _run(postgres_server.database("checked"), "check", "--database", "default")
    assert "no issues" in out.stdout


def test_a_queued_container_is_claimed_exactly_once_on_postgresql(migrated):
    _run(migrated, "claim", script=str(SCENARIO))


def test_concurrent_launches_stay_within_the_quota_on_postgresql(migrated):
    _run(migrated, "quota_race", script=str(SCENARIO))
