"""The cgroup v1 driver: one directory per controller hierarchy (v1 and hybrid hosts)."""

import errno
import os
import time
from functools import partial

from runtime import settings
from runtime.cgroups import counters, files
from runtime.cgroups.device_rules import ALLOWED
from runtime.cgroups.hierarchies import v1_controllers
from runtime.cgroups.limits import CPU_PERIOD_US, Limits
from runtime.cgroups.open_files import OpenFiles
from runtime.cgroups.signals import signal_frozen
from runtime.errors import Conflict, NotFound, NotPermitted

CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "devices", "freezer", "blkio", "cpuset")
FREEZE_TIMEOUT_S = 10.0


class V1Driver:
    version = "v1"
    # v1 renames a cgroup with its processes in it (v2 refuses): see adopt.
    can_adopt = True

    def __init__(self, parent: str | None = None, mountpoint: str = "/sys/fs/cgroup"):
        self.parent = settings.cgroup_parent(parent)
        self.stat_files = OpenFiles()
        self.mountpoint = mountpoint
        self._mounts = v1_controllers(mountpoint, CONTROLLERS)
        # Co-mounted controllers share one directory; each is made once.
        self._hierarchies = list(dict.fromkeys(self._mounts.values()))

    def paths(self, name: str) -> dict[str, str]:
        files.check_name(name)
        return {ctrl: f"{mount}/{self.parent}/{name}" for ctrl, mount in self._mounts.items()}

    def _dir(self, controller: str, name: str) -> str:
        return f"{self._mounts[controller]}/{self.parent}/{name}"

    def create(self, name: str, limits: Limits) -> None:
        files.check_name(name)
        for controller in CONTROLLERS:
            if controller not in self._mounts:
                raise NotPermitted(f"cgroup controller '{controller}' is not available")
        made = []
        try:
            for hierarchy in self._hierarchies:
                self._ensure_parent(hierarchy)
                path = f"{hierarchy}/{self.parent}/{name}"
                try:
                    os.mkdir(path)
                except FileExistsError:
                    raise Conflict(f"cgroup '{name}' already exists") from None
                made.append(path)
            _inherit_cpuset(self._dir("cpuset", name))
            self._restrict_devices(name)
            self.update(name, limits)
        except BaseException:
            for path in reversed(made):
                files.remove_tree(path)
            raise

    def adopt(self, spare: str, name: str, limits: Limits) -> None:
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
        for hierarchy in self._hierarchies:
            try:
                os.rmdir(f"{hierarchy}/{self.parent}/{name}")
            except OSError:
                pass

    def _ensure_parent(self, hierarchy: str) -> None:
        path = hierarchy
        for part in self.parent.split("/"):
            path = f"{path}/{part}"
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
            if hierarchy == self._mounts["cpuset"]:
                _inherit_cpuset(path)

    def _restrict_devices(self, name: str) -> None:
        path = self._dir("devices", name)
        files.write(f"{path}/devices.deny", "a")
        for rule in ALLOWED:
            files.write(f"{path}/devices.allow", rule.v1_line())

    def update(self, name: str, limits: Limits) -> None:
        files.check_name(name)
        files.require_dir(self._dir("memory", name), name)
        if limits.memory_bytes is not None:
            self._set_memory(name, limits.memory_bytes)
        cpu = self._dir("cpu", name)
        if limits.cpus is not None:
            files.write(f"{cpu}/cpu.cfs_period_us", CPU_PERIOD_US)
            files.write(f"{cpu}/cpu.cfs_quota_us", limits.cpu_quota_us)
        if limits.cpu_shares is not None:
            files.write(f"{cpu}/cpu.shares", limits.cpu_shares)
        if limits.pids_limit is not None:
            files.write(f"{self._dir('pids', name)}/pids.max", limits.pids_limit)

    def _set_memory(self, name: str, value: int) -> None:
        memory = self._dir("memory", name)
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

    def attach(self, name: str, pid: int) -> None:
        files.check_name(name)
        for hierarchy in self._hierarchies:
            path = f"{hierarchy}/{self.parent}/{name}"
            try:
                files.write(f"{path}/cgroup.procs", pid)
            except FileNotFoundError:
                raise NotFound(f"cgroup '{name}' does not exist") from None
            except ProcessLookupError:
                raise NotFound(f"process {pid} does not exist") from None

    def join_files(self, name: str) -> list[str]:
        """The files a single-threaded process writes b"0" into to move itself in.

        `tasks` with 0 moves only the calling thread, which the kernel does
        without the global threadgroup lock that a pid written to
        cgroup.procs takes: that lock waits for an RCU grace period, 5-10 ms
        across the eight hierarchies here, on every container start."""
        files.check_name(name)
        return [f"{hierarchy}/{self.parent}/{name}/tasks" for hierarchy in self._hierarchies]

    def procs(self, name: str) -> list[int]:
        files.check_name(name)
        try:
            return [int(pid) for pid in files.read(f"{self._dir('pids', name)}/cgroup.procs").split()]
        except FileNotFoundError:
            raise NotFound(f"cgroup '{name}' does not exist") from None

    def stats(self, name: str) -> dict:
        files.check_name(name)
        read = partial(self.stat_files.read, name)
        memory = self._dir("memory", name)
        try:
            cpu_stat = counters.flat_keyed(read(f"{self._dir('cpu', name)}/cpu.stat"))
            cpu_usage = int(read(f"{self._dir('cpuacct', name)}/cpuacct.usage"))
            memory_usage = int(read(f"{memory}/memory.usage_in_bytes"))
            memory_stat = read(f"{memory}/memory.stat")
            memory_limit = counters.limit(read(f"{memory}/memory.limit_in_bytes"))
            oom = counters.flat_keyed(read(f"{memory}/memory.oom_control"))
            pids = self._dir("pids", name)
            pids_current = int(read(f"{pids}/pids.current"))
            pids_limit = counters.limit(read(f"{pids}/pids.max"))
            blkio = read(f"{self._dir('blkio', name)}/blkio.throttle.io_service_bytes_recursive")
        except FileNotFoundError:
            raise NotFound(f"cgroup '{name}' does not exist") from None
        blk_read, blk_write = counters.blkio_bytes(blkio)
        return {
            "cpu_usage_ns": cpu_usage,
            "cpu_throttled_periods": cpu_stat.get("nr_throttled", 0),
            "cpu_throttled_ns": cpu_stat.get("throttled_time", 0),
            "memory_bytes": memory_usage,
            "memory_working_set_bytes": counters.working_set(memory_usage, counters.value_of(memory_stat, "total_inactive_file")),
            "memory_cache_bytes": counters.value_of(memory_stat, "total_cache"),
            "memory_limit_bytes": memory_limit,
            "pids": pids_current,
            "pids_limit": pids_limit,
            "oom_kills": oom.get("oom_kill", 0),
            "blk_read_bytes": blk_read,
            "blk_write_bytes": blk_write,
        }

    def oom_kills(self, name: str) -> int:
        files.check_name(name)
        try:
            text = files.read(f"{self._dir('memory', name)}/memory.oom_control")
        except FileNotFoundError:
            raise NotFound(f"cgroup '{name}' does not exist") from None
        return counters.flat_keyed(text).get("oom_kill", 0)

    def frozen(self, name: str) -> bool:
        return self._freezer_state(name) == "FROZEN"

    def _freezer_state(self, name: str) -> str:
        files.check_name(name)
        try:
            return files.read(f"{self._dir('freezer', name)}/freezer.state").strip()
        except FileNotFoundError:
            raise NotFound(f"cgroup '{name}' does not exist") from None

    def freeze(self, name: str) -> None:
        if not self._set_freezer(name, "FROZEN"):
            self._set_freezer(name, "THAWED")
            raise Conflict(f"cgroup '{name}' did not freeze within {FREEZE_TIMEOUT_S:.0f} s")

    def thaw(self, name: str) -> None:
        if not self._set_freezer(name, "THAWED"):
            raise Conflict(f"cgroup '{name}' did not thaw within {FREEZE_TIMEOUT_S:.0f} s")

    def _set_freezer(self, name: str, state: str) -> bool:
        files.check_name(name)
        files.require_dir(self._dir("freezer", name), name)
        path = f"{self._dir('freezer', name)}/freezer.state"
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

    def kill_all(self, name: str, sig: int) -> None:
        signal_frozen(self, name, sig)

    def destroy(self, name: str) -> None:
        files.check_name(name)
        for hierarchy in self._hierarchies:
            files.remove_tree(f"{hierarchy}/{self.parent}/{name}")


def _inherit_cpuset(path: str) -> None:
    """A new v1 cpuset starts with no cpus and no memory nodes, and refuses
    tasks until it gets some; copy them from its parent."""
    parent = os.path.dirname(path)
    for setting in ("cpuset.cpus", "cpuset.mems"):
        if not files.read(f"{path}/{setting}").strip():
            files.write(f"{path}/{setting}", files.read(f"{parent}/{setting}").strip())
