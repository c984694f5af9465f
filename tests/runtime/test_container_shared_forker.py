"""The node's shared forker: containers started from separate CLI commands
get their shims from one forker, which only root may use and which leaves
when idle or asked."""

import os
import socket
import subprocess
import sys
import time

import pytest
from container_testing import alive

from runtime.errors import TerrariumError
from runtime.forker import shared as shared_forker
from runtime.forker.shared import shared_address
from runtime.linux import procinfo


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, text=True, timeout=60,
                          env=env)

def forker_of(rt, cid: str) -> int:
    return procinfo.parent(rt.get(cid).shim_pid)


def listening(state_root, cgroup_parent) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
        try:
            sock.connect(shared_address(str(state_root), cgroup_parent))
        except ConnectionRefusedError:
            return False
    return True


def test_containers_from_separate_commands_share_one_forker(rt, state_root, cgroup_parent):
    first, second = (cli("run", "-d", "busybox", "sleep", "60").stdout.strip() for _ in range(2))
    forker = forker_of(rt, first)
    assert forker == forker_of(rt, second)
    with open(f"/proc/{forker}/cmdline", "rb") as f:
        assert b"--listen" in f.read().split(b"\0")

    shared_forker.stop(str(state_root), cgroup_parent)
    assert not alive(forker) and not listening(state_root, cgroup_parent)
    # Running containers do not depend on it; the next command starts another.
    assert rt.get(first).status == rt.get(second).status == "running"
    third = cli("run", "-d", "busybox", "sleep", "60").stdout.strip()
    assert rt.get(third).status == "running" and forker_of(rt, third) != forker


def test_two_commands_that_find_no_forker_start_one(rt, state_root, cgroup_parent):
    commands = [subprocess.Popen([sys.executable, "-m", "runtime", "run", "-d", "busybox", "sleep", "60"],
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]
    ids = [c.communicate(timeout=60)[0].strip() for c in commands]
    assert all(c.returncode == 0 for c in commands)
    assert forker_of(rt, ids[0]) == forker_of(rt, ids[1])


def test_the_shared_forker_leaves_when_idle(rt, state_root, cgroup_parent):
    env = dict(os.environ, TERRARIUM_FORKER_IDLE_S="3")
    assert cli("run", "--rm", "busybox", "true", env=env).returncode == 0
    assert listening(state_root, cgroup_parent)
    deadline = time.monotonic() + 20
    while listening(state_root, cgroup_parent):
        assert time.monotonic() < deadline, "the idle forker stayed"
        time.sleep(0.05)


def test_only_root_may_use_the_shared_forker(rt, state_root, cgroup_parent):
    assert cli("run", "--rm", "busybox", "true").returncode == 0
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        answer = b"closed"
        try:
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
                sock.connect(shared_address(str(state_root), cgroup_parent))
                sock.send(b"quit")
                answer = sock.recv(16) or answer
        except OSError:
            pass
        finally:
            os.write(w, answer)
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        answer = f.read()
    os.waitpid(pid, 0)
    assert answer == b"closed" and listening(state_root, cgroup_parent)


def test_a_forker_that_cannot_start_fails_the_command_and_leaves_nothing(rt, state_root, cgroup_parent):
    result = cli("run", "--rm", "busybox", "true", env=dict(os.environ, TERRARIUM_FORKER_IDLE_S="never"))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [result.stderr.strip()] and "cannot reach the node's forker" in result.stderr
    assert rt.list(all=True) == [] and not listening(state_root, cgroup_parent)


def test_a_forker_serves_its_own_state_root_only_however_it_is_spelled(rt, state_root, cgroup_parent, tmp_path):
    shared_forker.SharedForker(str(state_root), cgroup_parent).take().discard()
    alias = tmp_path / "alias"
    alias.symlink_to(state_root)

    def ask(root: str):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
            sock.connect(shared_address(str(state_root), cgroup_parent))
            sock.send(shared_forker.spare_request(root, cgroup_parent))
            return shared_forker.receive_spare(sock)

    ask(str(alias)).discard()
    with pytest.raises(TerrariumError, match="serves another state root"):
        ask(str(tmp_path))


def trash_of(state_root) -> list[str]:
    trash = state_root / "containers" / ".trash"
    return os.listdir(trash) if trash.exists() else []


def test_a_removed_container_is_gone_at_once_and_its_files_soon_after(rt, state_root, cgroup_parent):
    result = cli("run", "--rm", "--name", "brief", "busybox", "true")
    assert result.returncode == 0
    # Gone for every reader when the command exits; the shared forker removes the files.
    assert rt.list(all=True) == [] and not os.path.lexists(state_root / "containers" / ".names" / "brief")
    deadline = time.monotonic() + 10
    while trash_of(state_root):
        assert time.monotonic() < deadline, "the shared forker never emptied the trash"
        time.sleep(0.01)


def test_rm_with_no_shared_forker_running_leaves_nothing(rt, state_root, cgroup_parent):
    cid = cli("run", "-d", "busybox", "true").stdout.strip()
    rt.wait(cid)
    shared_forker.stop(str(state_root), cgroup_parent)
    assert cli("rm", cid).returncode == 0
    assert rt.list(all=True) == [] and trash_of(state_root) == []
