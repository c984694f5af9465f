"""The runtime's state belongs to root alone: a container's writable layer,
its records and logs, and the images are out of reach of every other local
account, whatever umask the caller had."""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from container_testing import left_running, mounts_under
from runtime.forker import shared as shared_forker
from runtime.image.store import ImageStore
from runtime.lifecycle import Runtime

NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
# Below these the files are the image's or the container's own, with their own modes.
THEIRS = ("rootfs", "upper", "work", "init-layer", "stage")


@pytest.fixture
def open_root(cgroup_parent, busybox_tar, monkeypatch):
    """A state root whose parent any account may enter (as /var/lib is),
    used by a caller with a permissive umask."""
    parent = Path(tempfile.mkdtemp(prefix="terrarium-perm-", dir="/tmp"))
    parent.chmod(0o755)
    root = parent / "root"
    monkeypatch.setenv("TERRARIUM_ROOT", str(root))
    old_umask = os.umask(0o002)
    runtime = Runtime()
    try:
        ImageStore(root).import_archive(busybox_tar, name="busybox")
        yield root, runtime
    finally:
        os.umask(old_umask)
        for state in runtime.list(all=True):
            runtime.delete(state.id, force=True)
        shared_forker.stop(str(root), cgroup_parent)
        seen = [s.shim_pid for s in runtime.list(all=True)]
        assert not mounts_under(root), "mounts left under the state root"
        assert not left_running(seen)
        shutil.rmtree(parent)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, text=True, timeout=60)


def _open_to_others(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in THEIRS]
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            mode = stat.S_IMODE(path.lstat().st_mode)
            if not path.is_symlink() and mode & 0o077:
                found.append(f"{path.relative_to(root)} {mode:o}")
    return found


def test_everything_the_cli_writes_is_root_only(open_root):
    root, runtime = open_root
    assert _cli("run", "--rm", "busybox", "true").returncode == 0
    cid = _cli("run", "-d", "--name", "kept", "busybox", "sh", "-c", "echo hi; echo x > /note; sleep 60").stdout.strip()
    assert _cli("exec", cid, "true").returncode == 0
    assert "hi" in _cli("logs", cid).stdout
    assert _cli("kill", cid).returncode == 0
    # The shim records the exit after kill returns (a temporary file renamed over the record): walked once that is done.
    runtime.wait(cid)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert _open_to_others(root) == []


def test_what_a_caller_with_a_loose_umask_makes_in_process_is_root_only(open_root):
    root, runtime = open_root
    from runtime.config import ContainerConfig

    state = runtime.run(ContainerConfig(image="busybox", command=["sh", "-c", "echo hi"], name="inproc"))
    runtime.wait(state.id)
    assert list(runtime.logs(state.id))
    assert _open_to_others(root) == []


def test_a_setuid_binary_left_in_a_writable_layer_is_out_of_reach_of_other_accounts(open_root):
    root, runtime = open_root
    from runtime.config import ContainerConfig

    state = runtime.run(ContainerConfig(image="busybox", command=["sh", "-c", "cp /bin/busybox /id && chmod 4755 /id"]))
    assert runtime.wait(state.id).exit_code == 0
    planted = root / "containers" / state.id / "upper" / "id"
    assert planted.stat().st_mode & stat.S_ISUID
    # Through a shell, as the attacker would: setpriv itself opens its command before it drops root.
    attempt = subprocess.run([*NOBODY, "sh", "-c", f"{planted} -u"], capture_output=True, text=True)
    assert attempt.returncode != 0 and "Permission denied" in attempt.stderr
    listing = subprocess.run([*NOBODY, "sh", "-c", f"ls {root}"], capture_output=True, text=True)
    assert listing.returncode != 0 and "Permission denied" in listing.stderr


def test_an_older_state_root_open_to_others_is_repaired_at_start(open_root):
    root, _ = open_root
    for path in (root, root / "containers", root / "images"):
        path.mkdir(exist_ok=True)
        path.chmod(0o755)
    Runtime(root=root)
    assert [stat.S_IMODE(p.stat().st_mode) for p in (root, root / "containers", root / "images")] == [0o700] * 3


def test_a_container_keeps_the_usual_umask_and_modes_though_root_runs_with_077(open_root):
    script = "umask; stat -c %a / /etc /dev/shm /tmp"
    run = _cli("run", "--rm", "busybox", "sh", "-c", script)
    assert run.stdout.split() == ["0022", "755", "755", "1777", "1777"], run.stderr
    cid = _cli("run", "-d", "busybox", "sleep", "60").stdout.strip()
    assert _cli("exec", cid, "sh", "-c", "umask").stdout.strip() == "0022"
    _cli("kill", cid)


def test_a_caller_who_is_not_root_gets_one_clear_error():
    result = subprocess.run([*NOBODY, sys.executable, "-m", "runtime", "ps"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: the runtime needs root: its state is root's alone, and containers need namespaces, mounts and cgroups"
    ]
