"""exec: joins the running container, with or without a PTY from its own devpts."""

import os
import select

import pytest


from runtime.config import ContainerConfig
from runtime.errors import Conflict, TerrariumError


def read_until(fd, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        ready, _, _ = select.select([fd], [], [], 10)
        assert ready, f"no {marker!r} in {data!r}"
        data += os.read(fd, 4096)
    return data


@pytest.fixture
def sleeper(rt):
    return rt.run(ContainerConfig(image="busybox", command=["sleep", "60"], hostname="inside"))


def test_exec_with_a_tty_uses_the_containers_devpts_and_resizes(rt, sleeper):
    sess = rt.exec(sleeper.id, ["sh"], tty=True, rows=30, cols=90)
    os.write(sess.fd, b"tty; stty size; hostname; echo $$\n")
    out = read_until(sess.fd, b"inside")
    assert b"/dev/pts/0" in out and b"30 90" in out
    sess.resize(40, 100)
    os.write(sess.fd, b"stty size; exit 3\n")
    assert b"40 100" in read_until(sess.fd, b"40 100")
    assert sess.wait() == 3
    sess.close()


def test_exec_without_a_tty_gives_pipes_and_the_exit_code(rt, sleeper):
    sess = rt.exec(sleeper.id, ["sh", "-c", "cat; echo err >&2; ps | wc -l; exit 4"], env={"A": "1"})
    os.write(sess.stdin, b"fed\n")
    os.close(sess.stdin)
    sess.stdin = None
    assert os.read(sess.stdout, 100) == b"fed\n"
    assert sess.wait() == 4
    sess.close()


def test_exec_gets_the_same_confinement_as_pid_1(rt, sleeper):
    sess = rt.exec(sleeper.id, ["sh", "-c", "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; readlink /proc/1/ns/mnt; readlink /proc/self/ns/mnt"])
    out = b""
    while chunk := os.read(sess.stdout, 4096):
        out += chunk
    assert sess.wait() == 0
    lines = out.decode().split("\n")
    assert "00000000a80425fb" in lines[0] and lines[1].endswith("1") and lines[2].endswith("2")
    assert lines[3] == lines[4]
    sess.close()


def test_exec_of_a_missing_command_or_into_a_stopped_container_fails(rt, sleeper):
    with pytest.raises(TerrariumError, match="executable file not found"):
        rt.exec(sleeper.id, ["nosuch"])
    rt.stop(sleeper.id, timeout=0.1)
    with pytest.raises(Conflict):
        rt.exec(sleeper.id, ["true"])
