"""Helpers for the container tests: processes, mounts and commands run in a
container, and a Runtime that remembers its processes. The `rt` fixture
itself is in conftest.py."""

import ctypes
import os
import time
from contextlib import contextmanager

from runtime.config import ContainerConfig
from runtime.lifecycle import Runtime


def mounts_under(path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]


def alive(pid) -> bool:
    return bool(pid) and os.path.exists(f"/proc/{pid}") and "Z" not in _state(pid)


def _state(pid) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        # Gone, or going: its /proc directory can outlive it for a moment.
        return "Z"


class TrackedRuntime(Runtime):
    """A Runtime that remembers every shim and pid 1 it saw."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen_pids = set()

    def start(self, ref, attach=False):
        result = super().start(ref, attach=attach)
        state = result[0] if attach else result
        self.seen_pids.update(p for p in (state.pid, state.shim_pid) if p)
        return result


def left_running(pids, grace_s: float = 10) -> list[int]:
    """Those of pids still running after grace_s: a shim records the exit
    first and then removes the cgroup and lets go of the layer (a sync), so
    it may still be leaving when its container is deleted."""
    deadline = time.monotonic() + grace_s
    while (running := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return running


def run(rt: Runtime, command, **options) -> tuple[int, str]:
    """Run a command to completion; (exit code, stdout + stderr)."""
    state = rt.run(ContainerConfig(image="busybox", command=command, **options))
    state = rt.wait(state.id)
    output = b"".join(entry["data"] for entry in rt.logs(state.id)).decode()
    rt.delete(state.id)
    return state.exit_code, output


def sh(rt: Runtime, script: str, **options) -> tuple[int, str]:
    return run(rt, ["sh", "-c", script], **options)


class _Sigaction(ctypes.Structure):
    # The kernel's struct sigaction for rt_sigaction on x86_64.
    _fields_ = [("handler", ctypes.c_ulong), ("flags", ctypes.c_ulong), ("restorer", ctypes.c_ulong),
                ("mask", ctypes.c_uint64)]


@contextmanager
def ignoring(*signals):
    """This process ignores signals (with rt_sigaction itself: glibc refuses
    32 and 33), as a launcher may have inherited; restored afterwards."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ignore, saved = _Sigaction(1, 0, 0, 0), {}
    try:
        for sig in signals:
            saved[sig] = _Sigaction()
            assert libc.syscall(ctypes.c_long(13), ctypes.c_int(sig), ctypes.byref(ignore),
                                ctypes.byref(saved[sig]), ctypes.c_size_t(8)) == 0
        yield
    finally:
        for sig, old in saved.items():
            libc.syscall(ctypes.c_long(13), ctypes.c_int(sig), ctypes.byref(old), None, ctypes.c_size_t(8))
