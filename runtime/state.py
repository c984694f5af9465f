"""Container records on disk: `<root>/containers/<id>/state.json`.

state.json is replaced atomically (write a temporary file, rename), so a
reader never sees half a record. Read-modify-write cycles hold an flock on
the container's directory because two processes write it: the controller
(start, pause, delete) and the shim (running, exited).

Names are unique through `<root>/containers/.names/<name>`, a symlink to the
id: creating a symlink is atomic, so two concurrent creates with one name
cannot both win, without a global lock or a scan of every record.
"""

import fcntl
import json
import os
import time
from contextlib import contextmanager

from runtime.errors import Conflict, NotFound
from runtime.linux import syscalls, treeops
from runtime.records import Record

NAMES = ".names"
TRASH = ".trash"


def now_iso() -> str:
    """UTC with microseconds, `2024-05-01T12:00:00.123456Z`; not datetime, whose import the CLI would pay."""
    seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


class ContainerState(Record):
    __slots__ = ("id", "name", "image", "image_id", "status", "pid", "exit_code", "oom_killed", "created_at",
                 "started_at", "finished_at", "config", "limits", "cgroup_paths", "namespaces", "shim_pid",
                 "shim_start_time", "pid_start_time", "userns")

    def __init__(self, id: str, name: str, image: str, image_id: str, status: str = "created",
                 pid: int | None = None, exit_code: int | None = None, oom_killed: bool = False,
                 created_at: str = "", started_at: str | None = None, finished_at: str | None = None,
                 config: dict | None = None, limits: dict | None = None, cgroup_paths: dict | None = None,
                 namespaces: dict | None = None, shim_pid: int | None = None, shim_start_time: int | None = None,
                 pid_start_time: int | None = None, userns: dict | None = None):
        self.id = id
        self.name = name
        self.image = image
        self.image_id = image_id
        self.status = status
        self.pid = pid
        self.exit_code = exit_code
        self.oom_killed = oom_killed
        self.created_at = created_at
        self.started_at = started_at
        self.finished_at = finished_at
        self.config = {} if config is None else config
        self.limits = {} if limits is None else limits
        self.cgroup_paths = {} if cgroup_paths is None else cgroup_paths
        self.namespaces = {} if namespaces is None else namespaces
        self.shim_pid = shim_pid
        self.shim_start_time = shim_start_time
        self.pid_start_time = pid_start_time
        # {"uid_base": B, "size": 65536}: the id range held from the first start
        # until deletion (runtime.id_ranges); None with the host's ids.
        self.userns = userns

    @classmethod
    def from_dict(cls, data: dict) -> "ContainerState":
        return cls(**{k: v for k, v in data.items() if k in cls.__slots__})


class StateStore:
    def __init__(self, root: str | os.PathLike):
        self.root = os.fspath(root)
        self.dir = f"{self.root}/containers"
        self.names = f"{self.dir}/{NAMES}"
        self.trash = f"{self.dir}/{TRASH}"
        # Records write(unlink_later=True) replaced, for unlink_replaced().
        self.replaced = []

    def path(self, cid: str) -> str:
        return f"{self.dir}/{cid}"

    @staticmethod
    def new_id() -> str:
        # Not the secrets module: it imports random, hmac and hashlib for one call.
        return os.urandom(32).hex()

    def reserve_name(self, name: str, cid: str) -> None:
        link = f"{self.names}/{name}"
        try:
            try:
                os.symlink(cid, link)
            except FileNotFoundError:
                os.makedirs(self.names, mode=0o700, exist_ok=True)
                os.symlink(cid, link)
            return
        except FileExistsError:
            owner = os.readlink(link)
        if os.path.exists(f"{self.dir}/{owner}/state.json"):
            raise Conflict(f"the name {name!r} is already used by container {owner[:12]}")
        # A record removed by a crash mid-delete left its name behind.
        tmp = f"{self.names}/.{name}.{cid}"
        os.symlink(cid, tmp)
        os.rename(tmp, link)

    def release_name(self, name: str, cid: str, into: str | None = None) -> None:
        """Remove the name's link if it is still cid's; into: move it there instead."""
        link = f"{self.names}/{name}"
        try:
            if os.readlink(link) == cid:
                if into is None:
                    os.unlink(link)
                else:
                    os.rename(link, into)
        except FileNotFoundError:
            pass

    def write(self, state: ContainerState, new: bool = False, unlink_later: bool = False) -> None:
        """Replace the record; new=True: there is none yet (a create).
        unlink_later: leave the replaced record for unlink_replaced()."""
        directory = self.path(state.id)
        tmp = f"{directory}/.state.{os.getpid()}.tmp"
        # json.dumps, not json.dump: dump runs the pure-Python encoder, a
        # cost the shim pays in pages it must copy after fork.
        data = json.dumps(state.fields()).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)
        target = f"{directory}/state.json"
        # Not a rename over the old record: ext4 (auto_da_alloc) then starts
        # writeback of the new file inside rename(), tens of ms on a busy
        # disk, twice per container run. Swapping the names is as atomic
        # for readers and leaves the old record to unlink.
        if new:
            os.rename(tmp, target)
            return
        try:
            syscalls.rename_exchange(tmp, target)
        except FileNotFoundError:
            os.rename(tmp, target)
            return
        if unlink_later:
            self.replaced.append(tmp)
        else:
            os.unlink(tmp)

    def unlink_replaced(self) -> None:
        """Unlink the records write(unlink_later=True) replaced. Apart, so that
        a shim can do it after telling of the start or the exit: freeing a
        record already written to disk can wait for the disk (an ext4
        mounted with `discard` discards the freed block at once)."""
        while self.replaced:
            try:
                os.unlink(self.replaced.pop())
            except FileNotFoundError:
                pass

    def read(self, cid: str) -> ContainerState:
        try:
            with open(f"{self.dir}/{cid}/state.json", "rb") as f:
                return ContainerState.from_dict(json.loads(f.read()))
        except FileNotFoundError:
            raise NotFound(f"no such container: {cid}") from None

    def read_cached(self, cid: str, cache: dict) -> ContainerState:
        """read(), skipped while state.json is still the file parsed last time:
        one stat instead of an open and a JSON parse. Every write renames a
        new file into place, so inode, mtime and size name one record. The
        returned state is shared with the cache: do not modify it."""
        try:
            st = os.stat(f"{self.dir}/{cid}/state.json")
        except FileNotFoundError:
            cache.pop(cid, None)
            raise NotFound(f"no such container: {cid}") from None
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        hit = cache.get(cid)
        if hit is not None and hit[0] == key:
            return hit[1]
        state = self.read(cid)
        cache[cid] = (key, state)
        return state

    @contextmanager
    def locked(self, cid: str):
        try:
            fd = os.open(self.path(cid), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f"no such container: {cid}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def update(self, cid: str, if_status: str | None = None, **changes) -> ContainerState:
        """Change fields of the record, under the lock. if_status: only while
        the record's status is that; Conflict otherwise (a container whose
        exit was recorded meanwhile stays exited)."""
        with self.locked(cid):
            state = self.read(cid)
            if if_status is not None and state.status != if_status:
                raise Conflict(f"container {state.name} is {state.status}, no longer {if_status}")
            for key, value in changes.items():
                setattr(state, key, value)
            self.write(state)
            return state

    def ids(self) -> list[str]:
        try:
            return [e.name for e in os.scandir(self.dir) if not e.name.startswith(".") and e.is_dir()]
        except FileNotFoundError:
            return []

    def resolve(self, ref: str) -> str:
        """A name, a full id or a unique id prefix -> the id."""
        if not ref or "/" in ref or ref.startswith("."):
            raise NotFound(f"no such container: {ref!r}")
        if os.path.exists(f"{self.dir}/{ref}/state.json"):
            return ref
        try:
            cid = os.readlink(f"{self.names}/{ref}")
            if os.path.exists(f"{self.dir}/{cid}/state.json"):
                return cid
        except (FileNotFoundError, OSError):
            pass
        matches = [cid for cid in self.ids() if cid.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise Conflict(f"container id prefix {ref!r} is ambiguous")
        raise NotFound(f"no such container: {ref}")

    def remove(self, state: ContainerState, later: bool = False) -> None:
        """Remove the container's directory and name. later=True only moves
        the directory into the trash (one rename: the container is gone for
        every reader at once) for `empty_trash` to remove off the caller's
        path; the dashboard worker's forker does that."""
        if later:
            try:
                os.rename(self.path(state.id), f"{self.trash}/{state.id}")
            except FileNotFoundError:
                # No trash yet, or the container's directory is gone.
                os.makedirs(self.trash, mode=0o700, exist_ok=True)
                try:
                    os.rename(self.path(state.id), f"{self.trash}/{state.id}")
                except FileNotFoundError:
                    pass
            # The name's link too: it holds the 64-character id in a disk block
            # of its own, and unlinking it could wait for the disk to discard
            # that block (an ext4 mounted with `discard` does so at once).
            self.release_name(state.name, state.id, into=f"{self.trash}/{state.id}.name")
            return
        self._remove_under(self.dir, state.id)
        self.release_name(state.name, state.id)

    def empty_trash(self) -> None:
        """Remove what `remove(later=True)` left, and what a crash left there."""
        try:
            names = os.listdir(self.trash)
        except FileNotFoundError:
            return
        for name in names:
            self._remove_under(self.trash, name)

    @staticmethod
    def _remove_under(directory: str, name: str) -> None:
        # treeops, not shutil: shutil's import (bz2, lzma) would cost every CLI start.
        try:
            fd = os.open(directory, treeops.DIR_FLAGS)
        except FileNotFoundError:
            return
        try:
            treeops.remove_tree(fd, name.encode())
        except OSError:
            pass
        finally:
            os.close(fd)
