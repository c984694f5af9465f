"""A start sends pid 1 its plan before the shim its request: a command that
has run and exited before the shim reads the request is still recorded."""

import json
import socket
import time


from runtime import cgroups
from runtime.config import ContainerConfig
from runtime.isolation import seccomp
from runtime.shim import supervisor


def test_a_command_done_before_its_shim_has_the_request_is_recorded(rt):
    cfg = ContainerConfig(image="busybox", command=["sh", "-c", "echo early; exit 4"])
    # The start's steps by hand (Runtime._create, _plan, the spare shim), to put
    # a delay between pid 1's plan and the shim's request that no public call allows.
    state, image = rt._create(cfg)
    plan = rt._plan(state, ContainerConfig.from_dict(state.config), image)
    rt.driver.create(state.id, cgroups.Limits(**state.limits))
    seccomp.prepare(f"{rt.root}/cache")
    spare = supervisor.prefork(rt.store, rt.driver)
    spare.plan_channel.send(json.dumps({"plan": plan.to_dict(), "interactive": False}).encode())
    spare.plan_channel.close()
    # Long enough for the command to run and exit: the shim sees pid 1's error pipe closed first.
    time.sleep(1)
    socket.send_fds(spare.channel, [json.dumps({"state": state.to_dict(), "tty": False}).encode()], [])
    assert spare.channel.recv(4096).decode().startswith("ok ")
    spare.channel.recv(1)  # end-of-file once the exit is recorded
    spare.channel.close()
    state = rt.wait(state.id)
    assert (state.status, state.exit_code) == ("exited", 4)
    assert b"".join(e["data"] for e in rt.logs(state.id)) == b"early\n"


def test_a_start_returns_once_the_command_runs(rt):
    # The shim answers while pid 1 execs (it records the start meanwhile); the
    # launcher waits for pid 1's end of the plan channel to close at the execve.
    for _ in range(5):
        state = rt.run(ContainerConfig(image="busybox", command=["sleep", "60"]))
        with open(f"/proc/{state.pid}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[0] == b"sleep"
        rt.delete(state.id, force=True)
