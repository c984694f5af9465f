"""What the v1 and v2 drivers do the same way: name checks, errors, and the
operations that differ only in which files they touch.

A driver says where a controller's directory of a cgroup is, which
directories make up the cgroup (`_dirs`), the names of its memory files
(`MEMORY`), and how it writes memory and cpu limits, freezes, and reads cpu
and block-io counters; v2 kills with cgroup.kill where it can, where this
base freezes, signals each process and thaws.
"""

import os
import signal
from functools import partial

from runtime import settings
from runtime.cgroups import counters, files
from runtime.errors import Conflict, NotFound, NotPermitted
from runtime.records import Record

FREEZE_TIMEOUT_S = 10.0


class NotFoundAs:
    """A FileNotFoundError in its block becomes NotFound for the cgroup `name`."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if kind is not None and issubclass(kind, FileNotFoundError):
            raise NotFound(f"cgroup '{self.name}' does not exist") from None
        return False


def require_controllers(wanted, available) -> None:
    for controller in wanted:
        if controller not in available:
            raise NotPermitted(f"cgroup controller '{controller}' is not available")


def make_new(path: str, name: str) -> None:
    try:
        os.mkdir(path)
    except FileExistsError:
        raise Conflict(f"cgroup '{name}' already exists") from None


class MemoryFiles(Record):
    """A version's names of the memory files a sample reads, and of the keys
    it takes from memory.stat."""

    __slots__ = ("usage", "limit", "events", "inactive_file", "cache")

    def __init__(self, usage: str, limit: str, events: str, inactive_file: str, cache: str):
        self.usage = usage
        self.limit = limit
        self.events = events
        self.inactive_file = inactive_file
        self.cache = cache


class CgroupDriver:
    """A subclass sets MEMORY, and stat_files (an OpenFiles) in its __init__:
    not imported here, so the base stays below the modules the drivers use."""

    MEMORY: MemoryFiles

    def __init__(self, parent: str | None):
        self.parent = settings.cgroup_parent(parent)

    def _controller_dir(self, name: str, controller: str) -> str:
        raise NotImplementedError

    def _file(self, name: str, controller: str, filename: str) -> str:
        return f"{self._controller_dir(name, controller)}/{filename}"

    def _dirs(self, name: str) -> list[str]:
        raise NotImplementedError

    def _parent_levels(self, root: str) -> list[str]:
        """The directories from root down to the parent, each below the last."""
        levels, path = [], root
        for part in self.parent.split("/"):
            path = f"{path}/{part}"
            levels.append(path)
        return levels

    def update(self, name: str, limits) -> None:
        """Writes a cgroups.Limits; a None in it leaves that limit as it is."""
        files.check_name(name)
        files.require_dir(self._controller_dir(name, "memory"), name)
        if limits.memory_bytes is not None:
            self._set_memory(name, limits.memory_bytes)
        self._set_cpu(name, limits)
        if limits.pids_limit is not None:
            files.write(self._file(name, "pids", "pids.max"), limits.pids_limit)

    def attach(self, name: str, pid: int) -> None:
        files.check_name(name)
        for path in self._dirs(name):
            try:
                with NotFoundAs(name):
                    files.write(f"{path}/cgroup.procs", pid)
            except ProcessLookupError:
                raise NotFound(f"process {pid} does not exist") from None

    def procs(self, name: str) -> list[int]:
        files.check_name(name)
        with NotFoundAs(name):
            return [int(pid) for pid in files.read(self._file(name, "pids", "cgroup.procs")).split()]

    def stats(self, name: str) -> dict:
        files.check_name(name)
        read = partial(self.stat_files.read, name)
        memory = partial(self._file, name, "memory")
        with NotFoundAs(name):
            cpu = self._cpu_counters(name, read)
            memory_usage = int(read(memory(self.MEMORY.usage)))
            memory_stat = read(memory("memory.stat"))
            memory_limit = counters.limit(read(memory(self.MEMORY.limit)))
            events = counters.flat_keyed(read(memory(self.MEMORY.events)))
            pids_current = int(read(self._file(name, "pids", "pids.current")))
            pids_limit = counters.limit(read(self._file(name, "pids", "pids.max")))
            blk_read, blk_write = self._block_io(name, read)
        return {
            **cpu,
            "memory_bytes": memory_usage,
            "memory_working_set_bytes":
                counters.working_set(memory_usage, counters.value_of(memory_stat, self.MEMORY.inactive_file)),
            "memory_cache_bytes": counters.value_of(memory_stat, self.MEMORY.cache),
            "memory_limit_bytes": memory_limit,
            "pids": pids_current,
            "pids_limit": pids_limit,
            "oom_kills": events.get("oom_kill", 0),
            "blk_read_bytes": blk_read,
            "blk_write_bytes": blk_write,
        }

    def oom_kills(self, name: str) -> int:
        files.check_name(name)
        with NotFoundAs(name):
            text = files.read(self._file(name, "memory", self.MEMORY.events))
        return counters.flat_keyed(text).get("oom_kill", 0)

    def freeze(self, name: str) -> None:
        if not self._wait_frozen(name, True):
            self._wait_frozen(name, False)
            raise Conflict(f"cgroup '{name}' did not freeze within {FREEZE_TIMEOUT_S:.0f} s")

    def thaw(self, name: str) -> None:
        if not self._wait_frozen(name, False):
            raise Conflict(f"cgroup '{name}' did not thaw within {FREEZE_TIMEOUT_S:.0f} s")

    def kill_all(self, name: str, sig: int) -> None:
        """Freeze, signal each pid, thaw: a frozen cgroup cannot fork a process
        the pid list missed, so no child escapes a SIGKILL. An empty cgroup (an
        exited container's, as a rule) has nothing to signal and nothing that
        could fork: no freeze and thaw."""
        if not self.procs(name):
            return
        was_frozen = self.frozen(name)
        self.freeze(name)
        try:
            for pid in self.procs(name):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            # A killed cgroup must thaw for its tasks to die; otherwise a paused
            # container stays paused.
            if sig == signal.SIGKILL or not was_frozen:
                try:
                    self.thaw(name)
                except NotFound:
                    # Killed tasks die as they thaw, and the container's shim
                    # removes the emptied cgroup: gone is thawed enough.
                    if sig != signal.SIGKILL:
                        raise

    def destroy(self, name: str) -> None:
        files.check_name(name)
        for path in self._dirs(name):
            files.remove_tree(path)
