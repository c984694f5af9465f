"""A container's writable layer made into an image (`Runtime.commit`).

The new image is its base plus one layer: a copy of the container's upper
dir, kept in overlay form (whiteouts as 0/0 character devices, opaque
directories with trusted.overlay.opaque), which a container of the new
image mounts as one more lower dir above the base's. The base is shared,
never copied; the store refuses to remove it while the new image exists.

Under a user namespace the upper dir's files are owned by the container's
host ids (uid_base + n): the copy records n, what the container saw, as an
imported image does, and later containers see them through their own map.
A running container is frozen while its layer is copied, and thawed after.
"""

import errno
import os
import stat
from contextlib import contextmanager

from runtime import id_ranges
from runtime.config import ContainerConfig
from runtime.errors import NotFound, TerrariumError
from runtime.image import layertar
from runtime.isolation import layerdisk
from runtime.linux import syscalls, treeops

# Unmapped host ids read as the overflow id inside a user namespace.
OVERFLOW_ID = 65534
MOUNT_ATTR_RDONLY = 0x1
# A file capability of revision 3 names the user namespace's root (rootid);
# revision 2, without it, is what an image holds.
VFS_CAP_REVISION_MASK = 0xFF000000
VFS_CAP_REVISION_2 = 0x02000000
VFS_CAP_REVISION_3 = 0x03000000
CAPABILITY_XATTR = "security.capability"


def commit(runtime, ref: str, name: str):
    """Returns the new image's ImageInfo (runtime.image.store), not imported
    for the annotation alone: that import would make the runtime a layer deeper."""
    state = runtime.get(ref)
    base = runtime.images.get(state.image_id)
    uid_base = state.userns["uid_base"] if state.userns else None
    defaults = _defaults(ContainerConfig.from_dict(state.config), base.defaults or {})

    def fill(dst_fd: int):
        with _frozen(runtime, state), _upper(runtime, state) as src_fd:
            counts = _Copy(uid_base).tree(src_fd, dst_fd)
        diff_id, _ = layertar.digest(dst_fd)
        return counts[0], counts[1], diff_id

    try:
        return runtime.images.add_layer(name, base, fill, defaults)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise TerrariumError(f"cannot commit container {state.name}: the disk is full") from None
        raise TerrariumError(f"cannot commit container {state.name}: {exc.strerror or exc}") from None


def _defaults(cfg: ContainerConfig, base: dict) -> dict:
    """The container's command, environment and working directory as the image's defaults."""
    env = dict(line.partition("=")[::2] for line in base.get("env") or [] if "=" in line)
    env.update(cfg.env or {})
    return {
        "env": [f"{key}={value}" for key, value in env.items()],
        "cmd": list(cfg.command or base.get("cmd") or []),
        "entrypoint": list(base.get("entrypoint") or []),
        "workdir": cfg.workdir or base.get("workdir") or "",
        "user": cfg.user or base.get("user") or "",
    }


@contextmanager
def _frozen(runtime, state):
    """A running container frozen for the block; a paused one stays as it is."""
    if state.status != "running":
        yield
        return
    try:
        runtime.driver.freeze(state.id)
    except NotFound:
        # It has stopped since it was read: its layer holds still without freezing.
        yield
        return
    try:
        yield
    finally:
        runtime.driver.thaw(state.id)


@contextmanager
def _upper(runtime, state):
    """An fd of the container's upper dir, on the host or on its own disk."""
    directory = runtime.store.path(state.id)
    cfg = ContainerConfig.from_dict(state.config)
    if cfg.disk_bytes is None:
        fd = os.open(f"{directory}/upper", treeops.DIR_FLAGS)
        try:
            yield fd
        finally:
            os.close(fd)
        return
    mount_fd = _disk_mount(layerdisk.image_path(directory))
    try:
        fd = treeops.open_dir(mount_fd, b"upper")
        try:
            yield fd
        finally:
            os.close(fd)
    finally:
        os.close(mount_fd)


def _disk_mount(image: str) -> int:
    """The layer disk's filesystem, detached and read-only: through the
    loop device a started container holds (the same filesystem, not a
    second one over the same blocks), or a new one if none does."""
    device = _loop_of(image)
    if device is None:
        return layerdisk.open_mount(image)
    fs_fd = syscalls.fsopen("ext4")
    try:
        syscalls.fsconfig(fs_fd, syscalls.FSCONFIG_SET_STRING, "source", device)
        syscalls.fsconfig(fs_fd, syscalls.FSCONFIG_CMD_CREATE)
        return syscalls.fsmount(fs_fd, syscalls.FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY)
    finally:
        os.close(fs_fd)


def _loop_of(image: str) -> str | None:
    wanted = os.stat(image)
    for name in os.listdir("/sys/block"):
        if not name.startswith("loop"):
            continue
        try:
            with open(f"/sys/block/{name}/loop/backing_file") as f:
                backing = f.read().rstrip("\n")
            st = os.stat(backing)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (wanted.st_dev, wanted.st_ino):
            return f"/dev/{name}"
    return None


class _Copy:
    """Copies an upper dir into the store, ids shifted back into the container's view."""

    def __init__(self, uid_base: int | None):
        self.uid_base = uid_base
        self.files = 0
        self.bytes = 0
        self._links: dict[tuple[int, int], bytes] = {}
        self._root = -1

    def tree(self, src_fd: int, dst_fd: int) -> tuple[int, int]:
        self._root = dst_fd
        self._dir(src_fd, dst_fd, b"")
        self._own(src_fd, dst_fd, os.fstat(src_fd))
        return self.files, self.bytes

    def _id(self, host_id: int) -> int:
        if self.uid_base is None:
            return host_id
        if self.uid_base <= host_id < self.uid_base + id_ranges.SIZE:
            return host_id - self.uid_base
        return OVERFLOW_ID

    def _dir(self, src_fd: int, dst_fd: int, rel: bytes) -> None:
        for name in sorted(os.listdir(src_fd), key=os.fsencode):
            raw = os.fsencode(name)
            st = os.lstat(raw, dir_fd=src_fd)
            mode = st.st_mode
            path = rel + b"/" + raw if rel else raw
            self.files += 1
            if stat.S_ISDIR(mode):
                os.mkdir(raw, 0o700, dir_fd=dst_fd)
                child_src = treeops.open_dir(src_fd, raw)
                try:
                    child_dst = treeops.open_dir(dst_fd, raw)
                    try:
                        self._dir(child_src, child_dst, path)
                        self._own(child_src, child_dst, st)
                    finally:
                        os.close(child_dst)
                finally:
                    os.close(child_src)
            elif stat.S_ISREG(mode):
                self._file(src_fd, dst_fd, raw, path, st)
            elif stat.S_ISLNK(mode):
                os.symlink(os.readlink(raw, dir_fd=src_fd), raw, dir_fd=dst_fd)
                os.chown(raw, self._id(st.st_uid), self._id(st.st_gid), dir_fd=dst_fd, follow_symlinks=False)
                os.utime(raw, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_fd, follow_symlinks=False)
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
                # Whiteouts (0/0) included: they are the layer's deletions.
                os.mknod(raw, stat.S_IFMT(mode) | 0o600, st.st_rdev, dir_fd=dst_fd)
                os.chown(raw, self._id(st.st_uid), self._id(st.st_gid), dir_fd=dst_fd, follow_symlinks=False)
                os.chmod(raw, stat.S_IMODE(mode), dir_fd=dst_fd, follow_symlinks=False)
                os.utime(raw, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_fd, follow_symlinks=False)
            else:
                # A socket is a running program's, not the image's.
                self.files -= 1

    def _file(self, src_fd: int, dst_fd: int, raw: bytes, path: bytes, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        first = self._links.get(key) if st.st_nlink > 1 else None
        if first is not None:
            parent, _, leaf = first.rpartition(b"/")
            parent_fd = treeops.open_dir(self._root, parent) if parent else self._root
            try:
                os.link(leaf, raw, src_dir_fd=parent_fd, dst_dir_fd=dst_fd, follow_symlinks=False)
            finally:
                if parent_fd != self._root:
                    os.close(parent_fd)
            return
        if st.st_nlink > 1:
            self._links[key] = path
        src = os.open(raw, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
        try:
            dst = os.open(raw, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                          dir_fd=dst_fd)
            try:
                offset = 0
                while offset < st.st_size:
                    sent = os.sendfile(dst, src, offset, min(st.st_size - offset, 1 << 30))
                    if not sent:
                        break
                    offset += sent
                self.bytes += offset
                self._own(src, dst, st)
            finally:
                os.close(dst)
        finally:
            os.close(src)

    def _own(self, src: int, dst: int, st: os.stat_result) -> None:
        # chown first: it clears setuid and setgid, which the chmod then restores.
        os.fchown(dst, self._id(st.st_uid), self._id(st.st_gid))
        os.fchmod(dst, stat.S_IMODE(st.st_mode))
        for key, value in _xattrs(src):
            os.setxattr(dst, key, value)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def _xattrs(fd: int):
    """The xattrs the layer keeps: the opaque mark, and the file's own (overlay's bookkeeping left out)."""
    try:
        names = os.listxattr(fd)
    except OSError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            return
        raise
    for name in names:
        if name.startswith(layertar.PRIVATE_XATTRS) and name != layertar.OPAQUE_XATTR:
            continue
        value = os.getxattr(fd, name)
        if name == CAPABILITY_XATTR:
            value = _capability_v2(value)
        yield name, value


def _capability_v2(value: bytes) -> bytes:
    magic = int.from_bytes(value[:4], "little")
    if magic & VFS_CAP_REVISION_MASK != VFS_CAP_REVISION_3:
        return value
    magic = magic & ~VFS_CAP_REVISION_MASK | VFS_CAP_REVISION_2
    return magic.to_bytes(4, "little") + value[4:20]
