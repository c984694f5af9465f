"""Safe extraction of tar layers into an image's rootfs.

The tarball is untrusted and we are root. Parent directories are resolved
by the kernel beneath the rootfs fd with openat2(RESOLVE_BENEATH |
RESOLVE_NO_SYMLINKS): no entry can name a place outside the rootfs or reach
anywhere through a symlink, whatever earlier entries or layers made. Leaves
are created with O_EXCL|O_NOFOLLOW or *at calls that never follow a final
symlink; an existing leaf is removed and recreated, never written through.

Layers follow the OCI whiteout rules: `.wh.<name>` removes <name> of lower
layers, `.wh..wh..opq` hides every lower child of its directory wherever it
appears in the layer; whiteout files never reach the rootfs.
"""

import errno
import os
import stat
from dataclasses import dataclass

from runtime.errors import ImportFailed
from runtime.id_ranges import SIZE
from runtime.image import tarstream
from runtime.image.file_writers import FileWriters
from runtime.image.import_limits import ImportLimits
from runtime.image.tarstream import BLK, CHR, DIR, FIFO, LNK, REG, SYM, clean_path, show
from runtime.linux import syscalls, treeops

FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
WHITEOUT = b".wh."
OPAQUE = b".wh..wh..opq"
MAX_CACHED_DIRS = 256
# A new file up to this size is written by FileWriters' threads; a bigger one here, poured from the stream.
THREADED_FILE_BYTES = 1 << 20
# A container's user namespace maps ids 0..65535 only: a file owned by a
# higher id would show as nobody inside, and its owner could not chown it.
MAX_OWNER_ID = SIZE - 1
_UNSAFE_RESOLUTION = {
    errno.ELOOP: "its path goes through a symlink",
    errno.EXDEV: "its path leaves the image",
    errno.ENOTDIR: "a parent in its path is not a directory",
}


@dataclass
class Report:
    entries: int = 0
    files: int = 0
    bytes: int = 0
    devices_skipped: int = 0


def _why(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno == errno.ENAMETOOLONG:
        return "a name in its path is longer than 255 bytes"
    return os.strerror(exc.errno) if exc.errno else str(exc)


def _check_owner(entry: tarstream.Entry) -> None:
    if entry.uid > MAX_OWNER_ID or entry.gid > MAX_OWNER_ID:
        raise ImportFailed(f"entry {show(entry.name)}: owned by {entry.uid}:{entry.gid}, but a container's user "
                           f"namespace maps ids 0-{MAX_OWNER_ID} only")


class Extractor:
    """Applies tar layers, in order, to the empty directory open as root_fd."""

    def __init__(self, root_fd: int, limits: ImportLimits):
        # What is in the rootfs is then known without asking the disk: only
        # what this extractor made (`_seen`, `_layer`), so a file at a path
        # never made before is new and can go to a writer thread.
        if os.listdir(root_fd):
            raise ValueError("an Extractor fills an empty directory")
        self.root = root_fd
        self.limits = limits
        self.report = Report()
        self._dirs: dict[bytes, int] = {}
        self._dir_times: dict[bytes, int] = {}
        self._layer: set[bytes] = set()
        self._seen: set[bytes] = set()
        self._writers = FileWriters(self._write_new)
        self._uid, self._gid = os.geteuid(), os.getegid()
        # The gid of each directory this import gave an owner: a new file takes
        # our gid or its directory's (setgid dir, grpid mount), so when both
        # are the entry's gid, its fchown would change nothing.
        self._dir_gid: dict[bytes, int] = {}

    def apply(self, entries, stream) -> None:
        """Extract one layer: entries from tarstream.entries(stream)."""
        self._layer = set()
        # A slow source's files land as they come, not when a batch fills.
        stream.before_wait = self._writers.hand_over
        for entry in entries:
            self.report.entries += 1
            if self.report.entries > self.limits.max_entries:
                raise ImportFailed(f"archive has more than {self.limits.max_entries} entries")
            if len(self._dirs) > MAX_CACHED_DIRS:
                self._forget(None)
            try:
                self._entry(entry, stream)
            except OSError as exc:
                raise ImportFailed(f"entry {show(entry.name)}: {_why(exc)}") from None
        self._writers.wait_all()
        self._seen |= self._layer

    def finish(self) -> None:
        """Give directories their archive mtimes, now that nothing more is created in them."""
        self._forget(None)
        for rel, mtime in self._dir_times.items():
            try:
                fd = treeops.open_dir(self.root, rel)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                    continue
                raise
            try:
                os.utime(fd, ns=(mtime, mtime))
            finally:
                os.close(fd)

    def close(self) -> None:
        self._writers.close()
        self._forget(None)

    def _entry(self, entry: tarstream.Entry, stream) -> None:
        if len(entry.name) > self.limits.max_path_bytes:
            raise ImportFailed(f"entry {show(entry.name[:64])}...: path longer than {self.limits.max_path_bytes} bytes")
        rel = clean_path(entry.name)
        kind = entry.kind
        if kind in (CHR, BLK):
            self.report.devices_skipped += 1
            return
        if not rel:
            if kind != DIR:
                raise ImportFailed(f"entry {show(entry.name)}: the image root can only be a directory")
            _check_owner(entry)
            self._own(self.root, entry)
            self._dir_gid[b""] = entry.gid
            self._dir_times[b""] = entry.mtime_ns
            return
        parent, _, leaf = rel.rpartition(b"/")
        if leaf.startswith(WHITEOUT):
            self._whiteout(parent, leaf, entry.name)
            return
        if kind != LNK:
            _check_owner(entry)
        pfd = self._dirs.get(parent) or self._dir(parent, entry.name, create=True)
        new = rel not in self._layer and rel not in self._seen
        if not new:
            self._writers.wait_for(rel)
        self._layer.add(rel)
        if kind == REG:
            self._file(pfd, leaf, rel, entry, stream, self._dir_gid.get(parent), new)
        elif kind == DIR:
            self._mkdir(pfd, leaf, rel, entry)
        elif kind == SYM:
            self._symlink(pfd, leaf, rel, entry)
        elif kind == LNK:
            self._hardlink(pfd, leaf, rel, entry)
        elif kind == FIFO:
            self._create(pfd, leaf, rel, lambda: os.mkfifo(leaf, 0o600, dir_fd=pfd))
            os.chown(leaf, entry.uid, entry.gid, dir_fd=pfd, follow_symlinks=False)
            # We just made this fifo in a directory only this import writes to: no link can be there.
            os.chmod(leaf, entry.mode, dir_fd=pfd)
            os.utime(leaf, ns=(entry.mtime_ns, entry.mtime_ns), dir_fd=pfd, follow_symlinks=False)
            self.report.files += 1

    def _file(self, pfd: int, leaf: bytes, rel: bytes, entry: tarstream.Entry, stream, dir_gid: int | None,
              new: bool) -> None:
        if self.report.bytes + entry.size > self.limits.max_bytes:
            raise ImportFailed(
                f"entry {show(entry.name)}: unpacking it would exceed the {self.limits.max_bytes} byte size limit")
        chown = entry.uid != self._uid or entry.gid != self._gid or dir_gid != self._gid
        self.report.files += 1
        self.report.bytes += entry.size
        if new and entry.size <= THREADED_FILE_BYTES:
            self._writers.add(rel, entry.size, (pfd, leaf, entry, stream.take(entry.size), chown))
            return
        try:
            fd = os.open(leaf, FILE_FLAGS, 0o600, dir_fd=pfd)
        except FileExistsError:
            self._remove(pfd, leaf, rel)
            fd = os.open(leaf, FILE_FLAGS, 0o600, dir_fd=pfd)
        try:
            if entry.size:
                stream.pour(entry.size, fd)
            self._own_and_date(fd, entry, chown)
        finally:
            os.close(fd)

    def _write_new(self, job) -> None:
        """A new file's whole life, in a writer thread."""
        pfd, leaf, entry, data, chown = job
        try:
            fd = os.open(leaf, FILE_FLAGS, 0o600, dir_fd=pfd)
            try:
                syscalls.write_all(fd, data)
                self._own_and_date(fd, entry, chown)
            finally:
                os.close(fd)
        except OSError as exc:
            raise ImportFailed(f"entry {show(entry.name)}: {_why(exc)}") from None

    def _own_and_date(self, fd: int, entry: tarstream.Entry, chown: bool) -> None:
        if chown:
            os.fchown(fd, entry.uid, entry.gid)
        self._mode_and_xattrs(fd, entry)
        os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))

    def _mkdir(self, pfd: int, leaf: bytes, rel: bytes, entry: tarstream.Entry) -> None:
        try:
            os.mkdir(leaf, 0o700, dir_fd=pfd)
            self.report.files += 1
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(leaf, dir_fd=pfd).st_mode):
                self._create(pfd, leaf, rel, lambda: os.mkdir(leaf, 0o700, dir_fd=pfd))
                self.report.files += 1
        fd = os.open(leaf, treeops.DIR_FLAGS, dir_fd=pfd)
        try:
            self._own(fd, entry)
        except BaseException:
            os.close(fd)
            raise
        self._dir_gid[rel] = entry.gid
        self._dir_times[rel] = entry.mtime_ns
        stale = self._dirs.pop(rel, None)
        if stale is not None:
            # Files queued for the writer threads may still name the old fd.
            self._writers.wait_all()
            os.close(stale)
        self._dirs[rel] = fd

    def _symlink(self, pfd: int, leaf: bytes, rel: bytes, entry: tarstream.Entry) -> None:
        if not entry.linkname:
            raise ImportFailed(f"entry {show(entry.name)}: symlink with an empty target")
        self._create(pfd, leaf, rel, lambda: os.symlink(entry.linkname, leaf, dir_fd=pfd))
        os.chown(leaf, entry.uid, entry.gid, dir_fd=pfd, follow_symlinks=False)
        os.utime(leaf, ns=(entry.mtime_ns, entry.mtime_ns), dir_fd=pfd, follow_symlinks=False)
        self.report.files += 1

    def _hardlink(self, pfd: int, leaf: bytes, rel: bytes, entry: tarstream.Entry) -> None:
        target = clean_path(entry.linkname, what=f"entry {show(entry.name)}: hardlink target")
        if target == rel:
            return
        self._writers.wait_for(target)
        tparent, _, tleaf = target.rpartition(b"/")
        tpfd = self._dir(tparent, entry.name, create=False) if target else None
        if tpfd is None:
            raise ImportFailed(f"entry {show(entry.name)}: hardlink target {show(entry.linkname)} does not exist")
        try:
            self._create(pfd, leaf, rel,
                         lambda: os.link(tleaf, leaf, src_dir_fd=tpfd, dst_dir_fd=pfd, follow_symlinks=False))
        except FileNotFoundError:
            raise ImportFailed(
                f"entry {show(entry.name)}: hardlink target {show(entry.linkname)} does not exist") from None
        except PermissionError:
            raise ImportFailed(
                f"entry {show(entry.name)}: hardlink target {show(entry.linkname)} is a directory") from None
        self.report.files += 1

    def _whiteout(self, parent: bytes, leaf: bytes, name: bytes) -> None:
        pfd = self._dir(parent, name, create=False)
        if pfd is None:
            return
        if leaf == OPAQUE:
            self._hide_lower_children(parent)
            return
        target = leaf[len(WHITEOUT):]
        if target in (b"", b".", b".."):
            raise ImportFailed(f"entry {show(name)}: whiteout of {show(target)} is not allowed")
        rel = parent + b"/" + target if parent else target
        if rel in self._layer:
            return
        try:
            self._remove(pfd, target, rel)
        except FileNotFoundError:
            pass

    def _hide_lower_children(self, rel_dir: bytes) -> None:
        self._writers.wait_all()
        pending = [rel_dir]
        while pending:
            current = pending.pop()
            fd = treeops.open_dir(self.root, current)
            try:
                for child in os.listdir(fd):
                    name = os.fsencode(child)
                    rel = current + b"/" + name if current else name
                    if rel not in self._layer:
                        self._remove(fd, name, rel)
                    elif stat.S_ISDIR(os.lstat(name, dir_fd=fd).st_mode):
                        pending.append(rel)
            finally:
                os.close(fd)

    def _own(self, fd: int, entry: tarstream.Entry) -> None:
        # chown first: it clears setuid/setgid, which the chmod then restores.
        os.fchown(fd, entry.uid, entry.gid)
        self._mode_and_xattrs(fd, entry)

    @staticmethod
    def _mode_and_xattrs(fd: int, entry: tarstream.Entry) -> None:
        os.fchmod(fd, entry.mode)
        for key, value in entry.xattrs:
            try:
                os.setxattr(fd, key, value)
            except OSError as exc:
                if exc.errno != errno.EOPNOTSUPP:
                    raise

    def _create(self, pfd: int, leaf: bytes, rel: bytes, make):
        try:
            return make()
        except FileExistsError:
            self._remove(pfd, leaf, rel)
            return make()

    def _remove(self, pfd: int, leaf: bytes, rel: bytes) -> None:
        # What goes may hold files still being written.
        self._writers.wait_all()
        if stat.S_ISDIR(os.lstat(leaf, dir_fd=pfd).st_mode):
            self._forget(rel)
            names, freed = treeops.remove_tree(self.root, rel)
        else:
            names, freed = treeops.remove_tree(pfd, leaf)
        self.report.files -= names
        self.report.bytes -= freed

    def _dir(self, rel: bytes, name: bytes, *, create: bool) -> int | None:
        """The fd of directory rel, made (with missing parents) if create; None if absent and not create."""
        fd = self._dirs.get(rel)
        if fd is not None:
            return fd
        if not rel:
            return self.root
        try:
            try:
                fd = syscalls.openat2(self.root, rel, treeops.BENEATH_FLAGS, treeops.RESOLVE)
            except FileNotFoundError:
                if not create:
                    return None
                fd = self._make_parents(rel)
        except OSError as exc:
            if exc.errno in _UNSAFE_RESOLUTION:
                raise ImportFailed(f"entry {show(name)}: {_UNSAFE_RESOLUTION[exc.errno]}") from None
            raise
        self._dirs[rel] = fd
        return fd

    def _make_parents(self, rel: bytes) -> int:
        fd, sofar = self.root, b""
        for part in rel.split(b"/"):
            sofar = sofar + b"/" + part if sofar else part
            cached = self._dirs.get(sofar)
            if cached is not None:
                fd = cached
                continue
            created = False
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
                created = True
                self.report.files += 1
                self._layer.add(sofar)
                self._dir_gid.pop(sofar, None)
            except FileExistsError:
                pass
            fd = syscalls.openat2(fd, part, treeops.BENEATH_FLAGS, treeops.RESOLVE)
            if created:
                # A directory the archive implies but does not hold gets Docker's
                # 0755, not what the importer's umask leaves (root's is 077).
                os.fchmod(fd, 0o755)
            if sofar != rel:
                self._dirs[sofar] = fd
        return fd

    def _forget(self, rel: bytes | None) -> None:
        """Close cached dir fds: all of them, or those of rel and below (rel is about to go)."""
        # The writer threads write through them.
        self._writers.wait_all()
        for key in list(self._dirs):
            if rel is None or key == rel or key.startswith(rel + b"/"):
                os.close(self._dirs.pop(key))
