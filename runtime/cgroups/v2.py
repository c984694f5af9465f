"""The unified cgroup v2 driver: one directory per container under the parent."""

import os
import select
import signal
import time
from functools import partial

from runtime import settings
from runtime.cgroups import bpf_devices, counters, files
from runtime.cgroups.limits import CPU_PERIOD_US, Limits
from runtime.cgroups.open_files import OpenFiles
from runtime.cgroups.signals import signal_frozen
from runtime.errors import Conflict, NotFound, NotPermitted

CONTROLLERS = ("cpu", "memory", "pids", "io", "cpuset")
FREEZE_TIMEOUT_S = 10.0


class V2Driver:
    version = "v2"
    # The unified hierarchy cannot rename a cgroup: no spare is made ahead.
    can_adopt = False

    def __init__(self, parent: str | None = None, mountpoint: str = "/sys/fs/cgroup"):
        self.parent = settings.cgroup_parent(parent)
        self.stat_files = OpenFiles()
        self.mountpoint = mountpoint.rstrip("/")

    def _dir(self, name: str) -> str:
        return f"{self.mountpoint}/{self.parent}/{name}"

    def paths(self, name: str) -> dict[str, str]:
        files.check_name(name)
        return {"unified": self._dir(name)}

    def create(self, name: str, limits: Limits) -> None:
        files.check_name(name)
        available = files.read(f"{self.mountpoint}/cgroup.controllers").split()
        for controller in CONTROLLERS:
            if controller not in available:
                raise NotPermitted(f"cgroup controller '{controller}' is not available")
        self._ensure_parent()
        path = self._dir(name)
        try:
            os.mkdir(path)
        except FileExistsError:
            raise Conflict(f"cgroup '{name}' already exists") from None
        try:
            bpf_devices.restrict(path)
            self.update(name, limits)
        except BaseException:
            files.remove_tree(path)
            raise

    def _ensure_parent(self) -> None:
        """Create the parent and delegate the controllers down to it.

        Only the root and the parent's own levels get controllers enabled:
        v2 forbids processes in a cgroup that delegates controllers, so this
        is never done to a cgroup someone else uses.
        """
        path = self.mountpoint
        for part in self.parent.split("/"):
            _enable_controllers(path)
            path = f"{path}/{part}"
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
        _enable_controllers(path)

    def update(self, name: str, limits: Limits) -> None:
        files.check_name(name)
        path = self._dir(name)
        files.require_dir(path, name)
        if limits.memory_bytes is not None:
            files.write(f"{path}/memory.max", limits.memory_bytes)
            # Present only with swap accounting; without it there is no swap to cap.
            if os.path.exists(f"{path}/memory.swap.max"):
                files.write(f"{path}/memory.swap.max", 0)
        if limits.cpus is not None:
            files.write(f"{path}/cpu.max", f"{limits.cpu_quota_us} {CPU_PERIOD_US}")
        if limits.cpu_shares is not None:
            files.write(f"{path}/cpu.weight", limits.cpu_weight)
        if limits.pids_limit is not None:
            files.write(f"{path}/pids.max", limits.pids_limit)

    def attach(self, name: str, pid: int) -> None:
        files.check_name(name)
        try:
            files.write(f"{self._dir(name)}/cgroup.procs", pid)
        except FileNotFoundError:
            raise NotFound(f"cgroup '{name}' does not exist") from None
        except ProcessLookupError:
            raise NotFound(f"process {pid} does not exist") from None

    def join_files(self, name: str) -> list[str]:
        """The file a process writes b"0" into to move itself in (v2 has no
        per-thread shortcut in a domain cgroup: same cost as `attach`)."""
        files.check_name(name)
        return [f"{self._dir(name)}/cgroup.procs"]

    def procs(self, name: str) -> list[int]:
        files.check_name(name)
        try:
            return [int(pid) for pid in files.read(f"{self._dir(name)}/cgroup.procs").split()]
        except FileNotFoundError:
            raise NotFound(f"cgroup '{name}' does not exist") from None

    def stats(self, name: str) -> dict:
        files.check_name(name)
        read = partial(self.stat_files.read, name)
        path = self._dir(name)
        try:
            cpu_stat = counters.flat_keyed(read(f"{path}/cpu.stat"))
            memory_usage = int(read(f"{path}/memory.current"))
            memory_stat = read(f"{path}/memory.stat")
            memory_limit = counters.limit(read(f"{path}/memory.max"))
            events = counters.flat_keyed(read(f"{path}/memory.events"))
            pids_current = int(read(f"{path}/pids.current"))
            pids_limit = counters.limit(read(f"{path}/pids.max"))
            io = read(f"{path}/io.stat")
        except FileNotFoundError:
            raise NotFound(f"cgroup '{name}' does not exist") from None
        blk_read, blk_write = counters.io_stat_bytes(io)
        return {
            "cpu_usage_ns": cpu_stat.get("usage_usec", 0) * 1000,
            "cpu_throttled_periods": cpu_stat.get("nr_throttled", 0),
            "cpu_throttled_ns": cpu_stat.get("throttled_usec", 0) * 1000,
            "memory_bytes": memory_usage,
            "memory_working_set_bytes": counters.working_set(memory_usage, counters.value_of(memory_stat, "inactive_file")),
            "memory_cache_bytes": counters.value_of(memory_stat, "file"),
            "memory_limit_bytes": memory_limit,
            "pids": pids_current,
            "pids_limit": pids_limit,
            "oom_kills": events.get("oom_kill", 0),
            "blk_read_bytes": blk_read,
            "blk_write_bytes": blk_write,
        }

    def oom_kills(self, name: str) -> int:
        files.check_name(name)
        try:
            text = files.read(f"{self._dir(name)}/memory.events")
        except FileNotFoundError:
            raise NotFound(f"cgroup '{name}' does not exist") from None
        return counters.flat_keyed(text).get("oom_kill", 0)

    def frozen(self, name: str) -> bool:
        return self._events(name).get("frozen") == 1

    def _events(self, name: str) -> dict[str, int]:
        files.check_name(name)
        try:
            return counters.flat_keyed(files.read(f"{self._dir(name)}/cgroup.events"))
        except FileNotFoundError:
            raise NotFound(f"cgroup '{name}' does not exist") from None

    def freeze(self, name: str) -> None:
        if not self._set_frozen(name, 1):
            self._set_frozen(name, 0)
            raise Conflict(f"cgroup '{name}' did not freeze within {FREEZE_TIMEOUT_S:.0f} s")

    def thaw(self, name: str) -> None:
        if not self._set_frozen(name, 0):
            raise Conflict(f"cgroup '{name}' did not thaw within {FREEZE_TIMEOUT_S:.0f} s")

    def _set_frozen(self, name: str, want: int) -> bool:
        """Write cgroup.freeze, then wait for cgroup.events to report the state.

        The kernel notifies cgroup.events with POLLPRI when "frozen" flips;
        the poll timeout only bounds each wait.
        """
        files.check_name(name)
        path = self._dir(name)
        try:
            files.write(f"{path}/cgroup.freeze", want)
            fd = os.open(f"{path}/cgroup.events", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"cgroup '{name}' does not exist") from None
        try:
            poller = select.poll()
            poller.register(fd, select.POLLPRI)
            deadline = time.monotonic() + FREEZE_TIMEOUT_S
            while True:
                os.lseek(fd, 0, os.SEEK_SET)
                if counters.flat_keyed(os.read(fd, 4096).decode()).get("frozen") == want:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                poller.poll(min(remaining, 0.1) * 1000)
        finally:
            os.close(fd)

    def kill_all(self, name: str, sig: int) -> None:
        files.check_name(name)
        kill_file = f"{self._dir(name)}/cgroup.kill"
        # cgroup.kill (Linux 5.14) kills atomically, forks in flight included.
        if sig == signal.SIGKILL and os.path.exists(kill_file):
            files.write(kill_file, 1)
        else:
            signal_frozen(self, name, sig)

    def destroy(self, name: str) -> None:
        files.check_name(name)
        files.remove_tree(self._dir(name))


def _enable_controllers(path: str) -> None:
    enabled = files.read(f"{path}/cgroup.subtree_control").split()
    missing = [c for c in CONTROLLERS if c not in enabled]
    if not missing:
        return
    try:
        files.write(f"{path}/cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
    except OSError as exc:
        raise NotPermitted(f"cannot enable cgroup controllers in {path}: {exc.strerror}") from None
