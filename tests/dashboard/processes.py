"""The dashboard's own processes (worker, Daphne, node agent) started by the
tests as root, sharing the test's database, Redis and runtime state."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

REPO = Path(__file__).resolve().parents[2]


def process_env(runtime_session, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="dashboard.settings",
        DATABASE_URL=f"sqlite:///{connection.settings_dict['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        NODE_NAME=settings.NODE_NAME,
        TERRARIUM_ROOT=str(runtime_session.root),
        TERRARIUM_CGROUP_PARENT=runtime_session.cgroup_parent,
        TERRARIUM_TESTING="1",
        NODE_HEARTBEAT_SECONDS="1",
        CONTAINER_STOP_SECONDS="1",
        UPLOAD_DIR=str(runtime_session.root.parent / "uploads"),
        TERRARIUM_RECORDING_DIR=str(runtime_session.root.parent / "recordings"),
        PYTHONUNBUFFERED="1",
        # The networks' DNS service forwards unknown names nowhere (the loopback).
        TERRARIUM_DNS_UPSTREAM="127.0.0.1",
    )
    env.update(extra)
    return env


def start_node_agent(runtime_session, node_name: str, log: Path) -> subprocess.Popen:
    """The real node agent (heartbeat, sampler, PTY owner) in its own session."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "node_agent", "--node", node_name], cwd=REPO,
            env=process_env(runtime_session, NODE_NAME=node_name), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process's session, SIGKILL it if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
