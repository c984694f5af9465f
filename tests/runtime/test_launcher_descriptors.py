"""Processes a launcher forks and that outlive the fork (a user namespace's
holder, an exec's helper) keep none of its other descriptors: a launcher's
threads fork them side by side, and a copy of another one's pipe would hold
that pipe open (a holder waiting for its own pipe's end while another waits
for its) or keep another exec's reader from its end of file."""

import os

from container_testing import alive
from forked_child import run_forked
from runtime.config import ContainerConfig
from runtime.isolation import userns


def descriptors_of(pid) -> set[str]:
    return {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}


def pipe_names(r, w) -> set[str]:
    return {os.readlink(f"/proc/self/fd/{fd}") for fd in (r, w)}


def test_a_user_namespace_holder_keeps_none_of_its_launchers_descriptors():
    def setup():
        r, w = os.pipe()
        ahead = userns.Ahead()
        try:
            with open(f"/proc/self/task/{os.getpid()}/children") as f:
                [holder] = f.read().split()
            leaked = descriptors_of(holder) & pipe_names(r, w)
            assert not leaked, f"the holder keeps the launcher's {leaked}"
        finally:
            ahead.release()

    code, output = run_forked(setup)
    assert code == 0, output


def test_an_exec_helper_keeps_none_of_its_launchers_descriptors(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sleep", "600"]))
    r, w = os.pipe()
    session = rt.exec(state.id, ["sleep", "600"])
    try:
        assert alive(session.helper)
        assert not descriptors_of(session.helper) & pipe_names(r, w)
    finally:
        session.kill()
        session.wait()
        session.close()
        os.close(r)
        os.close(w)
