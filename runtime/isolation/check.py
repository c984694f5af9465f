"""A lab's check: a script run as root inside a running container, as
`exec` runs a command there (runtime.isolation.exec: the container's
namespaces, user namespace included, its seccomp filter and capabilities),
with a time limit and its output capped.

The script goes to its interpreter on stdin and is never written into the
container: `/bin/sh -s`, or what its `#!` line names, read as the kernel
reads one (the interpreter, then the rest of the line as one argument).

Its cgroup is its own, beside the container's under Terrarium's parent,
not below it: a child's usage counts in its parent's limits, so a
student's fork bomb or memory hog that has taken all of the container's
pids or memory would starve a check below it. Beside it, the check has its
own small memory and pids limits and the container's CPU limit. Being
outside the container's cgroup, it must not let anyone escape those limits
for long: the whole group is killed when the script's main process ends
(its daemons too) or at the timeout, whichever comes first, and the cgroup
removed. The cgroup's name carries the check's deadline: one whose caller
died before removing it is killed and removed by the next check on the
node, or by sweep_expired (the dashboard's worker calls it on its heartbeat). When the container's pid 1 dies, the kernel kills every process of
its pid namespace, a check's included.
"""

import errno
import math
import os
import re
import select
import signal
import stat
import time
from dataclasses import dataclass

from runtime.cgroups.limits import Limits
from runtime.errors import Conflict, InvalidArgument, NotFound, TerrariumError
from runtime.isolation import exec as exec_module
from runtime.linux import procinfo
from runtime.linux import syscalls as sc
from runtime.resources import check_memory, check_pids, size_text

MAX_TIMEOUT_S = 60.0
MIN_PIDS = 8
SHELL = ["/bin/sh", "-s"]
CGROUP_PREFIX = "check-"
# A check's own caller removes its cgroup right after the deadline; others
# leave it alone until this much later (the freeze and kill take time).
SWEEP_GRACE_S = 15
# Once the group is killed its output pipe ends at once, unless a container
# process took a copy of its write end (pidfd_getfd): read no longer than this.
DRAIN_S = 1.0
_CHUNK = 65536
_ENV_KEY = re.compile(r"^[^=\0]+$")


@dataclass(frozen=True)
class CheckResult:
    exit_code: int | None
    output: bytes
    truncated: bool
    duration: float
    timed_out: bool
    error: str | None


def validate(script, env, *, timeout, memory, pids, output_limit) -> None:
    """Bad input is refused before anything is made or run."""
    if not isinstance(script, bytes):
        raise InvalidArgument("A check's script must be bytes.")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT_S:
        raise InvalidArgument(f"A check's timeout must be more than 0 and at most {MAX_TIMEOUT_S:g} seconds, "
                              f"not {timeout!r}.")
    check_memory(memory)
    check_pids(pids)
    if pids < MIN_PIDS:
        raise InvalidArgument(f"A check's pids limit must be at least {MIN_PIDS}, not {pids}.")
    if isinstance(output_limit, bool) or not isinstance(output_limit, int) or output_limit < 0:
        raise InvalidArgument(f"A check's output limit must be a whole number of bytes, not {output_limit!r}.")
    for key, value in (env or {}).items():
        if not isinstance(key, str) or not _ENV_KEY.match(key):
            raise InvalidArgument(f"invalid environment variable name {key!r}")
        if not isinstance(value, str) or "\0" in value:
            raise InvalidArgument(f"invalid value for environment variable {key}: a string without NUL")


def interpreter(script: bytes) -> list[str]:
    """The command that reads the script on its stdin."""
    if not script.startswith(b"#!"):
        return SHELL
    line = script[2:].split(b"\n", 1)[0].strip(b" \t\r")
    parts = re.split(rb"[ \t]+", line, maxsplit=1)
    if not parts[0]:
        # The kernel refuses an empty `#!` line, and a shell then runs the file itself.
        return SHELL
    return [os.fsdecode(part) for part in parts]


def run(driver, state, script: bytes, *, env: dict[str, str], timeout: float, memory: int, pids: int,
        output_limit: int, cpus: float | None) -> CheckResult:
    """Run a validated check in the live container `state`; see the module docstring."""
    sweep_expired(driver)
    argv = interpreter(script)
    name = f"{CGROUP_PREFIX}{state.id}-{math.ceil(time.time() + timeout)}-{os.urandom(4).hex()}"
    driver.create(name, Limits(memory_bytes=memory, cpus=cpus, pids_limit=pids))
    try:
        started = time.monotonic()
        try:
            session = exec_module.spawn(driver, state, argv, tty=False, env=env, cwd="/", user=None, rows=24,
                                        cols=80, cgroup=name, stderr_to_stdout=True)
        except TerrariumError as exc:
            return _not_started(state, argv[0], str(exc), time.monotonic() - started)
        try:
            output, truncated, timed_out = _follow(session, script, started + timeout, output_limit,
                                                   lambda: driver.kill_all(name, signal.SIGKILL))
            code = session.wait()
        finally:
            session.close()
        duration = time.monotonic() - started
        if timed_out:
            return CheckResult(None, output, truncated, duration, True, f"timed out after {timeout:g} s")
        error = None
        if code == 128 + signal.SIGKILL and driver.oom_kills(name):
            error = f"killed by its memory limit of {size_text(memory)}"
        return CheckResult(code, output, truncated, duration, False, error)
    finally:
        _remove(driver, name)


def _follow(session, script: bytes, deadline: float, limit: int, kill_group) -> tuple[bytes, bool, bool]:
    """Feed the script, keep the first `limit` bytes of output, until the
    main process ends or the deadline; then the group is killed (whatever
    is left of it) and the output read to its end. (output, truncated, timed out)"""
    pidfd = os.pidfd_open(session.helper)
    kept, truncated, timed_out = bytearray(), False, False
    pending = memoryview(script)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(session.stdout, select.POLLIN)
    os.set_blocking(session.stdin, False)
    poller.register(session.stdin, select.POLLOUT)
    try:
        ended = False
        while not ended:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for fd, _ in poller.poll(remaining * 1000):
                if fd == pidfd:
                    ended = True
                elif fd == session.stdout:
                    data = os.read(fd, _CHUNK)
                    if not data:
                        poller.unregister(fd)
                    truncated |= _keep(kept, data, limit)
                elif fd == session.stdin:
                    pending = _feed(session, poller, pending)
        kill_group()
        truncated |= _drain(session.stdout, kept, limit)
    finally:
        os.close(pidfd)
    return bytes(kept), truncated, timed_out


def _drain(fd: int, kept: bytearray, limit: int) -> bool:
    """Read what the killed group left in the pipe, up to its end or DRAIN_S."""
    truncated = False
    until = time.monotonic() + DRAIN_S
    while (remaining := until - time.monotonic()) > 0 and select.select([fd], [], [], remaining)[0]:
        data = os.read(fd, _CHUNK)
        if not data:
            break
        truncated |= _keep(kept, data, limit)
    return truncated


def _keep(kept: bytearray, data: bytes, limit: int) -> bool:
    """Append what fits under limit; True when some did not."""
    room = limit - len(kept)
    kept += data[:max(room, 0)]
    return len(data) > room


def _feed(session, poller, pending: memoryview) -> memoryview:
    """Write what the pipe takes; stdin closes once all is written or the script stopped reading."""
    try:
        pending = pending[os.write(session.stdin, pending[:_CHUNK]):]
    except BrokenPipeError:
        pending = pending[:0]
    if not pending:
        poller.unregister(session.stdin)
        os.close(session.stdin)
        session.stdin = None
    return pending


def _not_started(state, path: str, message: str, duration: float) -> CheckResult:
    """As a shell reports a command it cannot run: 127 for a missing
    interpreter, 126 for one that is not an executable file; any other
    failure has no exit code."""
    code = _interpreter_status(state, path)
    if code == 127:
        message = f"the check's interpreter {path} is not in container {state.name}"
    elif code == 126:
        message = f"the check's interpreter {path} in container {state.name} is not an executable file"
    output = f"{message}\n".encode() if code else b""
    return CheckResult(code, output, False, duration, False, message)


def _interpreter_status(state, path: str) -> int | None:
    """127 when the container has no file at path, 126 when it is no
    executable file; None when it is one (or the container is gone). Looked
    up only after a failed start, through pid 1's root: a symlink in the
    container resolves in the container."""
    if not procinfo.is_same(state.pid, state.pid_start_time):
        return None
    try:
        root = os.open(f"/proc/{state.pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fd = sc.openat2(root, os.fsencode(path), os.O_PATH | os.O_CLOEXEC, sc.RESOLVE_IN_ROOT)
    except OSError as exc:
        return 127 if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP) else None
    finally:
        os.close(root)
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return None if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111 else 126


def sweep_expired(driver) -> None:
    """Kill and remove the checks whose callers died before they could."""
    now = time.time()
    for name in driver.names_like(CGROUP_PREFIX):
        try:
            deadline = int(name.split("-")[2])
        except (IndexError, ValueError):
            continue
        if deadline + SWEEP_GRACE_S < now:
            try:
                _remove(driver, name)
            except TerrariumError:
                # Tried again by the next check: this one is not held up by another's leftovers.
                continue


def _remove(driver, name: str) -> None:
    try:
        driver.kill_all(name, signal.SIGKILL)
    except NotFound:
        pass
    try:
        driver.destroy(name)
    except (NotFound, Conflict, OSError) as exc:
        raise TerrariumError(f"cannot remove the check's cgroup {name}: {exc}") from None
