"""The cgroup v1 driver: one directory per controller hierarchy (v1 and hybrid hosts)."""

import errno
import os
import time

from runtime.cgroups import counters, files
from runtime.cgroups.base import (FREEZE_TIMEOUT_S, CgroupDriver, MemoryFiles, NotFoundAs, make_new,
                                  require_controllers)
from runtime.cgroups.device_rules import ALLOWED
from runtime.cgroups.hierarchies import v1_controllers
from runtime.cgroups.open_files import OpenFiles
from runtime.errors import Conflict

CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "devices", "freezer", "blkio", "cpuset")


class V1Driver(CgroupDriver):
    version = "v1"
    # v1 renames a cgroup with its processes in it (v2 refuses): see adopt.
    can_adopt = True
    MEMORY = MemoryFiles("memory.usage_in_bytes", "memory.limit_in_bytes", "memory.oom_control",
                         "total_inactive_file", "total_cache")

    def __init__(self, parent: str | None = None, mountpoint: str = "/sys/fs/cgroup"):
        super().__init__(parent)
        self.stat_files = OpenFiles()
        self.mountpoint = mountpoint
        self._mounts = v1_controllers(mountpoint, CONTROLLERS)
        # Co-mounted controllers share one directory; each is made once.
        self._hierarchies = list(dict.fromkeys(self._mounts.values()))

    def paths(self, name: str) -> dict[str, str]:
        files.check_name(name)
        return {ctrl: f"{mount}/{self.parent}/{name}" for ctrl, mount in self._mounts.items()}

    def _controller_dir(self, name: str, controller: str) -> str:
        return f"{self._mounts[controller]}/{self.parent}/{name}"

    def _dirs(self, name: str) -> list[str]:
        return [f"{hierarchy}/{self.parent}/{name}" for hierarchy in self._hierarchies]

    def create(self, name: str, limits) -> None:
        """Make cgroup `name` in every hierarchy, with `limits` (a cgroups.Limits)."""
        files.check_name(name)
        require_controllers(CONTROLLERS, self._mounts)
        made = []
        try:
            for hierarchy in self._hierarchies:
                self._ensure_parent(hierarchy)
                path = f"{hierarchy}/{self.parent}/{name}"
                make_new(path, name)
                made.append(path)
            _inherit_cpuset(self._controller_dir(name, "cpuset"))
            self._restrict_devices(name)
            self.update(name, limits)
        except BaseException:
            for path in reversed(made):
                files.remove_tree(path)
            raise

    def adopt(self, spare: str, name: str, limits) -> None:
        """Rename the cgroup `spare`, made ahead with create() for a
        container's pid 1 to wait in, to `name`, and give it `limits`; on
        failure it is `spare` again. The pid 1 in it keeps its cgroup
        namespace, whose root this is."""
        files.check_name(spare)
        files.check_name(name)
        renamed = []
        try:
            for hierarchy in self._hierarchies:
                os.rename(f"{hierarchy}/{self.parent}/{spare}", f"{hierarchy}/{self.parent}/{name}")
                renamed.append(hierarchy)
            self.update(name, limits)
        except BaseException:
            for hierarchy in renamed:
                try:
                    os.rename(f"{hierarchy}/{self.parent}/{name}", f"{hierarchy}/{self.parent}/{spare}")
                except OSError:
                    pass
            raise

    def names_like(self, prefix: str) -> list[str]:
        """The cgroups under the parent whose names start with prefix, in any
        hierarchy (one that a killed process made only in some counts)."""
        found = set()
        for hierarchy in self._hierarchies:
            try:
                found.update(n for n in os.listdir(f"{hierarchy}/{self.parent}") if n.startswith(prefix))
            except FileNotFoundError:
                pass
        return sorted(found)

    def remove_if_empty(self, name: str) -> None:
        """One rmdir in each hierarchy, no waiting: a cgroup someone uses stays."""
        files.check_name(name)
        for path in self._dirs(name):
            try:
                os.rmdir(path)
            except OSError:
                pass

    def _ensure_parent(self, hierarchy: str) -> None:
        for path in self._parent_levels(hierarchy):
            files.make_dir(path)
            if hierarchy == self._mounts["cpuset"]:
                _inherit_cpuset(path)

    def _restrict_devices(self, name: str) -> None:
        path = self._controller_dir(name, "devices")
        files.write(f"{path}/devices.deny", "a")
        for rule in ALLOWED:
            files.write(f"{path}/devices.allow", rule.v1_line())

    def _set_cpu(self, name: str, limits) -> None:
        cpu = self._controller_dir(name, "cpu")
        if limits.cpus is not None:
            files.write(f"{cpu}/cpu.cfs_period_us", limits.cpu_period_us)
            files.write(f"{cpu}/cpu.cfs_quota_us", limits.cpu_quota_us)
        if limits.cpu_shares is not None:
            files.write(f"{cpu}/cpu.shares", limits.cpu_shares)

    def _set_memory(self, name: str, value: int) -> None:
        memory = self._controller_dir(name, "memory")
        targets = [f"{memory}/memory.limit_in_bytes"]
        memsw = f"{memory}/memory.memsw.limit_in_bytes"
        # memsw exists only with swap accounting; when it does, memory+swap
        # gets the same cap so the container cannot spill into swap.
        if os.path.exists(memsw):
            targets.append(memsw)
            # The kernel keeps limit <= memsw at every step: raise memsw
            # first when growing, lower the limit first when shrinking.
            if value > int(files.read(targets[0])):
                targets.reverse()
        for target in targets:
            try:
                files.write(target, value)
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    raise Conflict(f"memory limit {value} is below what cgroup '{name}' uses now") from None
                raise

    def join_files(self, name: str) -> list[str]:
        """The files a single-threaded process writes b"0" into to move itself in.

        `tasks` with 0 moves only the calling thread, which the kernel does
        without the global threadgroup lock that a pid written to
        cgroup.procs takes: that lock waits for an RCU grace period, 5-10 ms
        across the eight hierarchies here, on every container start."""
        files.check_name(name)
        return [f"{path}/tasks" for path in self._dirs(name)]

    def _cpu_counters(self, name: str, read) -> dict:
        cpu_stat = counters.flat_keyed(read(self._file(name, "cpu", "cpu.stat")))
        return {
            "cpu_usage_ns": int(read(self._file(name, "cpuacct", "cpuacct.usage"))),
            "cpu_throttled_periods": cpu_stat.get("nr_throttled", 0),
            "cpu_throttled_ns": cpu_stat.get("throttled_time", 0),
        }

    def _block_io(self, name: str, read) -> tuple[int, int]:
        return counters.blkio_bytes(read(self._file(name, "blkio", "blkio.throttle.io_service_bytes_recursive")))

    def frozen(self, name: str) -> bool:
        return self._freezer_state(name) == "FROZEN"

    def _freezer_state(self, name: str) -> str:
        files.check_name(name)
        with NotFoundAs(name):
            return files.read(self._file(name, "freezer", "freezer.state")).strip()

    def _wait_frozen(self, name: str, frozen: bool) -> bool:
        state = "FROZEN" if frozen else "THAWED"
        files.check_name(name)
        files.require_dir(self._controller_dir(name, "freezer"), name)
        path = self._file(name, "freezer", "freezer.state")
        deadline = time.monotonic() + FREEZE_TIMEOUT_S
        delay = 0.0005
        while True:
            # FREEZING can stall on a task that forks meanwhile; writing the
            # state again makes the kernel retry the stragglers.
            files.write(path, state)
            if self._freezer_state(name) == state:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def _inherit_cpuset(path: str) -> None:
    """A new v1 cpuset starts with no cpus and no memory nodes, and refuses
    tasks until it gets some; copy them from its parent."""
    parent = os.path.dirname(path)
    for setting in ("cpuset.cpus", "cpuset.mems"):
        if not files.read(f"{path}/{setting}").strip():
            files.write(f"{path}/{setting}", files.read(f"{parent}/{setting}").strip())
