"""exec hand-over: a process joining a container is out of the container's
reach until it has executed the container's program.

The attacker is container root. There is no compiler or ptrace-capable tool
in busybox, so the watcher is Python from the host run as a container
process: forked from this test, it joins the container exactly as an exec'd
process does (its cgroup, then its ipc, uts, net, pid, cgroup and mount
namespaces, a fork into the pid namespace, the same capabilities, no_new_privs
and seccomp filter, with runtime.isolation.capabilities and runtime.isolation.seccomp); only the
execve is left out, so its code is already in memory. The kernel decides
every access below from exactly those credentials and namespaces, and /proc
is the container's own. It polls /proc for new pids and, while one has not
yet executed `true`, tries PTRACE_SEIZE, /proc/<pid>/environ, maps and mem,
and process_vm_readv on it, and reads what /proc shows anyone: its
cmdline, comm, stat and status. The exec sessions come from `python -m
runtime exec` processes, each with a secret in its environment and another
on its command line, which also names the host's interpreter and the state
root.
"""

import ctypes
import os
import select
import signal
import subprocess
import sys

import pytest


from runtime.config import ContainerConfig
from runtime.isolation import capabilities, seccomp
from runtime.isolation.container_init import join_cgroup
from runtime.isolation.exec import NAMESPACES
from runtime.linux import syscalls as sc

SECRET = "terrarium-test-secret-4f1c9a"
ARGUMENT_SECRET = "terrarium-test-argument-7d20e5"
PROGRAM = "true"
SESSIONS = 50
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_DETACH = 17
WALL = 0x40000000


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def _env_range(pid: int) -> tuple[int, int]:
    """env_start, env_end from /proc/<pid>/stat: 0 unless the kernel lets us read them."""
    # From field 3 on; env_start and env_end are fields 50 and 51.
    fields = _read(f"/proc/{pid}/stat").rsplit(b")", 1)[1].split()
    return int(fields[47]), int(fields[48])


def _host_words() -> list[bytes]:
    """What the exec's caller holds of the host, in its command line and name."""
    return [word.encode() for word in (ARGUMENT_SECRET, sys.executable, os.environ["TERRARIUM_ROOT"],
                                       os.path.basename(sys.executable)[:15])]


def _probe(libc, pid: int, leaks: list[str]) -> None:
    """Every way in; a finding only when it shows the process before its execve."""
    for view in ("cmdline", "comm", "stat", "status"):
        try:
            shown = _read(f"/proc/{pid}/{view}")
        except OSError:
            continue
        if any(word in shown for word in _host_words()):
            leaks.append(f"{view} of {pid}")
    try:
        if SECRET.encode() in _read(f"/proc/{pid}/environ"):
            leaks.append(f"environ of {pid}")
    except OSError:
        pass
    try:
        _read(f"/proc/{pid}/maps")
        # comm changes only at execve: still the caller's, the read came first.
        if _read(f"/proc/{pid}/comm").strip() != PROGRAM.encode():
            leaks.append(f"maps of {pid}")
    except OSError:
        pass
    try:
        start, end = _env_range(pid)
        if start:
            fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
            try:
                if SECRET.encode() in os.pread(fd, end - start, start):
                    leaks.append(f"mem of {pid}")
            finally:
                os.close(fd)
            buffer = ctypes.create_string_buffer(end - start)
            local, remote = _IoVec(ctypes.addressof(buffer), end - start), _IoVec(start, end - start)
            if libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) > 0 \
                    and SECRET.encode() in buffer.raw:
                leaks.append(f"process_vm_readv of {pid}")
    except OSError:
        pass
    if libc.ptrace(PTRACE_SEIZE, pid, None, None) == 0:
        try:
            if _read(f"/proc/{pid}/comm").strip() != PROGRAM.encode():
                leaks.append(f"ptrace of {pid}")
        except OSError:
            pass
        libc.ptrace(PTRACE_INTERRUPT, pid, None, None)
        try:
            os.waitpid(pid, WALL)
        except ChildProcessError:
            pass
        libc.ptrace(PTRACE_DETACH, pid, None, None)


def _stop(libc, pid: int, stopped: list[str]) -> bool:
    """SIGSTOP, which no process can block; one that had already executed the program goes on."""
    os.kill(pid, signal.SIGSTOP)
    if _read(f"/proc/{pid}/comm").strip() == PROGRAM.encode():
        os.kill(pid, signal.SIGCONT)
    else:
        stopped.append(f"stopped {pid}")
    return True


def _watch(stop_fd: int, report_fd: int, probe) -> None:
    """The watcher's loop, as container root, until stop_fd is closed:
    probe(libc, pid, findings) on each pid seen before its execve."""
    libc = ctypes.CDLL(None, use_errno=True)
    me, done, leaks, probed = os.getpid(), {1}, [], 0
    while not select.select([stop_fd], [], [], 0)[0]:
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in done or int(name) == me:
                continue
            pid = int(name)
            try:
                if _read(f"/proc/{pid}/comm").strip() == PROGRAM.encode():
                    done.add(pid)
                    continue
            except OSError:
                done.add(pid)
                continue
            probed += 1
            try:
                if probe(libc, pid, leaks):
                    done.add(pid)
            except OSError:
                done.add(pid)
    os.write(report_fd, f"{probed}\n{chr(10).join(leaks)}".encode())


def start_watcher(rt, state, probe=_probe) -> tuple[int, int, int]:
    """(pid, stop fd, report fd) of a watcher joined to the container as an exec'd process is."""
    seccomp.prepare()
    stop_r, stop_w = os.pipe()
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(stop_w)
            os.close(report_r)
            ns_fds = [os.open(f"/proc/{state.pid}/ns/{kind}", os.O_RDONLY) for kind in NAMESPACES]
            join_cgroup(rt.driver.join_files(state.id))
            for fd in ns_fds:
                sc.setns(fd)
            watcher = os.fork()
            if watcher == 0:
                capabilities.apply_default()
                seccomp.apply_default_profile()
                _watch(stop_r, report_w, probe)
                os._exit(0)
            os._exit(os.waitstatus_to_exitcode(os.waitpid(watcher, 0)[1]))
        finally:
            os._exit(1)
    os.close(stop_r)
    os.close(report_w)
    return pid, stop_w, report_r


def stop_watcher(pid: int, stop_fd: int, report_fd: int) -> tuple[int, list[str]]:
    """(pids probed before their execve, findings)."""
    os.close(stop_fd)
    report = b""
    while chunk := os.read(report_fd, 4096):
        report += chunk
    os.close(report_fd)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    probed, *leaks = report.decode().split("\n")
    return int(probed), [leak for leak in leaks if leak]


def cli_exec(state, *command, options=()) -> subprocess.CompletedProcess:
    """`python -m runtime --root <state root> exec`, run with a secret in its environment."""
    env = {**os.environ, "TERRARIUM_TEST_SECRET": SECRET}
    return subprocess.run([sys.executable, "-m", "runtime", "--root", os.environ["TERRARIUM_ROOT"], "exec",
                           *options, state.id, *command], env=env, capture_output=True, timeout=60)


@pytest.fixture
def sleeper(rt):
    return rt.run(ContainerConfig(image="busybox", command=["sleep", "600"]))


def test_container_root_cannot_trace_or_read_a_joining_process(rt, sleeper):
    watcher = start_watcher(rt, sleeper)
    try:
        for _ in range(SESSIONS):
            assert cli_exec(sleeper, PROGRAM, options=("-e", f"ARGUMENT={ARGUMENT_SECRET}")).returncode == 0
    finally:
        probed, leaks = stop_watcher(*watcher)
    assert probed > 0, "the watcher never saw a joining process before its execve"
    assert leaks == []
    # The program's environment: the container's and the caller's explicit one, nothing of the host's.
    result = cli_exec(sleeper, "cat", "/proc/self/environ", options=("-e", "ASKED=1"))
    assert result.returncode == 0
    assert sorted(entry.partition(b"=")[0] for entry in result.stdout.split(b"\0") if entry) == [b"ASKED", b"HOSTNAME", b"PATH"]


def test_a_joining_process_stopped_before_its_execve_fails_the_exec_in_bounded_time(rt, sleeper):
    watcher = start_watcher(rt, sleeper, probe=_stop)
    results = []
    try:
        for _ in range(10):
            results.append(cli_exec(sleeper, PROGRAM))
    finally:
        _, stopped = stop_watcher(*watcher)
    assert stopped, "the watcher never stopped a joining process before its execve"
    failed = [r for r in results if r.returncode != 0]
    assert len(failed) == len(stopped)
    assert all(b"stopped before its command started" in r.stderr for r in failed)
