"""Start-up checks: a bad setting stops the process with one clear message, and
`make run` as a normal user explains why it needs root."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def django_check(**env):
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "dashboard.settings"},
    )


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("NODE_HEARTBEAT_SECONDS", "soon", "NODE_HEARTBEAT_SECONDS must be a number, not 'soon'"),
        ("UPLOAD_MAX_BYTES", "10", "UPLOAD_MAX_BYTES must be between"),
        ("DEBUG", "maybe", "DEBUG must be true or false, not 'maybe'"),
        ("REDIS_URL", "http://x", "REDIS_URL must be a redis:// URL"),
        ("NODE_NAME", "bad name", "NODE_NAME must be"),
    ],
)
def test_a_bad_setting_stops_start_up_with_a_clear_message(name, value, message):
    result = django_check(**{name: value})
    assert result.returncode != 0
    assert message in result.stderr.strip().splitlines()[-1]


def test_make_run_as_a_normal_user_says_why_root_is_needed():
    result = subprocess.run(
        ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "bash", "scripts/run.sh"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert "needs root" in result.stderr and "cgroups" in result.stderr
