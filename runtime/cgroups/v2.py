"""The unified cgroup v2 driver: one directory per container under the parent."""

import os
import select
import signal
import time

from runtime.cgroups import bpf_devices, counters, files
from runtime.cgroups.base import FREEZE_TIMEOUT_S, CgroupDriver, MemoryFiles, NotFoundAs, make_new, require_controllers
from runtime.cgroups.open_files import OpenFiles
from runtime.errors import NotPermitted

CONTROLLERS = ("cpu", "memory", "pids", "io", "cpuset")


class V2Driver(CgroupDriver):
    version = "v2"
    # The unified hierarchy cannot rename a cgroup: no spare is made ahead.
    can_adopt = False
    MEMORY = MemoryFiles("memory.current", "memory.max", "memory.events", "inactive_file", "file")

    def __init__(self, parent: str | None = None, mountpoint: str = "/sys/fs/cgroup"):
        super().__init__(parent)
        self.stat_files = OpenFiles()
        self.mountpoint = mountpoint.rstrip("/")

    def _dir(self, name: str) -> str:
        return f"{self.mountpoint}/{self.parent}/{name}"

    def _controller_dir(self, name: str, controller: str) -> str:
        return self._dir(name)

    def _dirs(self, name: str) -> list[str]:
        return [self._dir(name)]

    def paths(self, name: str) -> dict[str, str]:
        files.check_name(name)
        return {"unified": self._dir(name)}

    def names_like(self, prefix: str) -> list[str]:
        """The cgroups under the parent whose names start with prefix."""
        try:
            return sorted(n for n in os.listdir(f"{self.mountpoint}/{self.parent}") if n.startswith(prefix))
        except FileNotFoundError:
            return []

    def create(self, name: str, limits) -> None:
        """Make cgroup `name` under the parent, with `limits` (a cgroups.Limits)."""
        files.check_name(name)
        require_controllers(CONTROLLERS, files.read(f"{self.mountpoint}/cgroup.controllers").split())
        self._ensure_parent()
        path = self._dir(name)
        make_new(path, name)
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
        for level in self._parent_levels(self.mountpoint):
            _enable_controllers(path)
            path = level
            files.make_dir(path)
        _enable_controllers(path)

    def _set_memory(self, name: str, value: int) -> None:
        path = self._dir(name)
        files.write(f"{path}/memory.max", value)
        # Present only with swap accounting; without it there is no swap to cap.
        if os.path.exists(f"{path}/memory.swap.max"):
            files.write(f"{path}/memory.swap.max", 0)

    def _set_cpu(self, name: str, limits) -> None:
        path = self._dir(name)
        if limits.cpus is not None:
            files.write(f"{path}/cpu.max", f"{limits.cpu_quota_us} {limits.cpu_period_us}")
        if limits.cpu_shares is not None:
            files.write(f"{path}/cpu.weight", limits.cpu_weight)

    def join_files(self, name: str) -> list[str]:
        """The file a process writes b"0" into to move itself in (v2 has no
        per-thread shortcut in a domain cgroup: same cost as `attach`)."""
        files.check_name(name)
        return [f"{self._dir(name)}/cgroup.procs"]

    def _cpu_counters(self, name: str, read) -> dict:
        cpu_stat = counters.flat_keyed(read(f"{self._dir(name)}/cpu.stat"))
        return {
            "cpu_usage_ns": cpu_stat.get("usage_usec", 0) * 1000,
            "cpu_throttled_periods": cpu_stat.get("nr_throttled", 0),
            "cpu_throttled_ns": cpu_stat.get("throttled_usec", 0) * 1000,
        }

    def _block_io(self, name: str, read) -> tuple[int, int]:
        return counters.io_stat_bytes(read(f"{self._dir(name)}/io.stat"))

    def frozen(self, name: str) -> bool:
        files.check_name(name)
        with NotFoundAs(name):
            return counters.flat_keyed(files.read(f"{self._dir(name)}/cgroup.events")).get("frozen") == 1

    def _wait_frozen(self, name: str, frozen: bool) -> bool:
        """Write cgroup.freeze, then wait for cgroup.events to report the state.

        The kernel notifies cgroup.events with POLLPRI when "frozen" flips;
        the poll timeout only bounds each wait.
        """
        want = int(frozen)
        files.check_name(name)
        path = self._dir(name)
        with NotFoundAs(name):
            files.write(f"{path}/cgroup.freeze", want)
            fd = os.open(f"{path}/cgroup.events", os.O_RDONLY | os.O_CLOEXEC)
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
        # cgroup.kill (Linux 5.14) kills atomically, forks in flight included;
        # without it, the base's freeze, signal and thaw.
        if sig == signal.SIGKILL and os.path.exists(kill_file):
            files.write(kill_file, 1)
        else:
            super().kill_all(name, sig)


def _enable_controllers(path: str) -> None:
    enabled = files.read(f"{path}/cgroup.subtree_control").split()
    missing = [c for c in CONTROLLERS if c not in enabled]
    if not missing:
        return
    try:
        files.write(f"{path}/cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
    except OSError as exc:
        raise NotPermitted(f"cannot enable cgroup controllers in {path}: {exc.strerror}") from None
