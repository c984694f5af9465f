"""A container's devpts holds at most MAX_PTYS ptys: one that opens
/dev/ptmx in a loop runs out of its own, and nobody else notices."""

import os
import time

from container_testing import sh
from runtime.config import ContainerConfig
from runtime.isolation.filesystem import MAX_PTYS

HOLD_PTYS = "for i in $(seq 80); do sleep 30 </dev/ptmx 2>/dev/null & done; sleep 30"


def _ptys_open(rt, cid) -> int:
    _, out = _sh_exec(rt, cid, "ls /dev/pts | grep -c '^[0-9]'")
    return int(out)


def _sh_exec(rt, cid, script) -> tuple[int, str]:
    session = rt.exec(cid, ["sh", "-c", script], tty=False)
    os.close(session.stdin)
    out = b""
    while chunk := os.read(session.stdout, 4096):
        out += chunk
    code = session.wait()
    session.close()
    return code, out.decode()


def test_a_container_opening_ptys_in_a_loop_gets_no_more_than_its_own(rt):
    hog = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", HOLD_PTYS]))
    deadline = time.monotonic() + 20
    while _ptys_open(rt, hog.id) < MAX_PTYS and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    assert _ptys_open(rt, hog.id) == MAX_PTYS
    assert sh(rt, "sleep 0.1 </dev/ptmx && echo opened") == (0, "opened\n")
    master, slave = os.openpty()
    os.close(master)
    os.close(slave)
    rt.kill(hog.id, 9)
    rt.wait(hog.id)
