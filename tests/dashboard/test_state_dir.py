"""The dashboard's state directory, as `make run` prepares it: the web user
gets its database, the secret key and the uploads; root keeps the rest; other
local accounts get nothing. An older installation is repaired."""

import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def old_installation():
    """A state directory as the previous run.sh left it: group-writable, the database beside the key."""
    parent = Path(tempfile.mkdtemp(prefix="terrarium-state-", dir="/tmp"))
    parent.chmod(0o755)
    state = parent / "state"
    (state / "uploads").mkdir(parents=True)
    (state / "redis").mkdir()
    for path, text in [("db.sqlite3", "db"), ("secret_key", "key"), ("uploads/a.upload", "tar"), ("redis/dump.rdb", "r")]:
        (state / path).write_text(text)
    for path in [state, *state.rglob("*")]:
        path.chmod(0o2775 if path.is_dir() else 0o664)
    yield state
    shutil.rmtree(parent)


def _as(user, script) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid", user, "--regid", user, "--init-groups", "sh", "-c", script],
                          capture_output=True, text=True)


def _prepare(state, user):
    subprocess.run([REPO / "scripts/state-dir.sh", state, user], check=True)


def test_other_accounts_reach_nothing_in_the_state_directory(old_installation, web_user):
    _prepare(old_installation, web_user)
    assert _as("nobody", f"ls {old_installation}").returncode != 0
    assert _as("nobody", f"cat {old_installation}/secret_key").returncode != 0
    assert not [str(p) for p in old_installation.rglob("*") if stat.S_IMODE(p.stat().st_mode) & 0o007]


def test_the_web_user_gets_its_database_the_key_and_the_uploads_and_nothing_else(old_installation, web_user):
    _prepare(old_installation, web_user)
    state = old_installation
    assert (state / "db/db.sqlite3").read_text() == "db" and not (state / "db.sqlite3").exists()
    assert _as(web_user, f"cat {state}/secret_key").stdout == "key"
    assert _as(web_user, f"echo x >> {state}/db/db.sqlite3 && touch {state}/db/db.sqlite3-wal").returncode == 0
    assert _as(web_user, f"touch {state}/uploads/b.upload && cat {state}/uploads/a.upload").returncode == 0
    assert _as(web_user, f"echo x >> {state}/secret_key").returncode != 0
    assert _as(web_user, f"ls {state}/redis").returncode != 0
    assert stat.S_IMODE((state / "secret_key").stat().st_mode) == 0o640


def test_preparing_twice_changes_nothing(old_installation, web_user):
    _prepare(old_installation, web_user)
    before = {p: (p.stat().st_mode, p.stat().st_uid, p.stat().st_gid) for p in old_installation.rglob("*")}
    _prepare(old_installation, web_user)
    assert before == {p: (p.stat().st_mode, p.stat().st_uid, p.stat().st_gid) for p in old_installation.rglob("*")}
