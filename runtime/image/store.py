"""The image store: `<root>/images/<id>/` holds `image.json` and `rootfs/`.

An import fills `<root>/images/.tmp-<name tag>-<random>/` and renames it
into place only when complete, so no reader ever sees half an image. The
importer holds an flock on its temporary directory for as long as it runs:
a leftover whose lock is free belongs to a dead importer and is removed by
`cleanup_partial()`, which every store runs when it starts. The same locks
make two imports of one name exclusive: the second one is refused at once.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import struct
import time

from runtime import settings
from runtime.errors import Conflict, ImportFailed, InvalidArgument, NotFound
from runtime.image.import_limits import ImportLimits
from runtime.linux import treeops
from runtime.linux.locks import directory_locked
from runtime.records import Record

__all__ = ["ImageStore", "ImageInfo", "ImportLimits"]

# Compiled by re at its first use: only an import checks a name.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}"
TMP_PREFIX = ".tmp-"
# overlayfs takes at most 500 lower dirs; the init layer is one of them.
MAX_CHAIN = 128
# FS_IOC_GETFLAGS, FS_IOC_SETFLAGS and FS_TOPDIR_FL (chattr +T) from linux/fs.h.
_GET_FLAGS, _SET_FLAGS, _TOP_DIR = 0x80086601, 0x40086602, 0x00020000


class ImageInfo(Record):
    """What image.json records, plus where the image lies in this store."""

    __slots__ = ("id", "name", "sha256", "format", "compression", "layers", "size_bytes", "file_count",
                 "devices_skipped", "defaults", "created_at", "parent", "source", "path", "rootfs")
    # The same image seen through two spellings of the store's root is still the same image.
    _COMPARED = __slots__[:-2]

    def __init__(self, id: str, name: str, sha256: str, format: str, compression: str, layers: list[str],
                 size_bytes: int, file_count: int, devices_skipped: int, defaults: dict, created_at: str,
                 parent: str | None = None, source: dict | None = None, path: str | None = None,
                 rootfs: str | None = None):
        self.id = id
        self.name = name
        self.sha256 = sha256
        self.format = format
        self.compression = compression
        self.layers = layers
        self.size_bytes = size_bytes
        self.file_count = file_count
        self.devices_skipped = devices_skipped
        self.defaults = defaults
        self.created_at = created_at
        # A committed image holds only its own layer (overlay form: whiteouts
        # are 0/0 character devices, opaque directories carry
        # trusted.overlay.opaque) on top of the image whose id this is.
        self.parent = parent
        # A pulled image's origin: reference, digest (what it resolved to), manifest, platform.
        self.source = source
        self.path = path
        self.rootfs = rootfs

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._COMPARED)

    def to_dict(self) -> dict:
        data = super().to_dict()
        data["path"], data["rootfs"] = str(self.path), str(self.rootfs)
        return data


def _check_name(name) -> None:
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        raise InvalidArgument(
            f"invalid image name {name!r}: use up to 128 letters, digits and . _ : / @ -, starting with a letter or digit")


def mark_top_dir(path: str) -> None:
    """Have ext4 place each directory made in path as it places the
    children of /: in the group with the fewest directories and more than
    the average free inodes and blocks, not beside path's other children.
    An import's tree then lands away from the groups a recent removal
    emptied: on an ext4 without a journal, each new inode there is found
    only after a scan past every inode deleted in the last minute, which
    made an import right after a removal ten times slower. Filesystems
    without the flag refuse it, and placement is then theirs as before."""
    fd = os.open(path, treeops.DIR_FLAGS)
    try:
        flags, = struct.unpack("i", fcntl.ioctl(fd, _GET_FLAGS, bytes(4)))
        if not flags & _TOP_DIR:
            fcntl.ioctl(fd, _SET_FLAGS, struct.pack("i", flags | _TOP_DIR))
    except OSError as exc:
        if exc.errno not in (errno.ENOTTY, errno.EOPNOTSUPP, errno.EINVAL, errno.EPERM):
            raise
    finally:
        os.close(fd)


def _flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


class ImageStore:
    check_name = staticmethod(_check_name)

    def __init__(self, root=None):
        self.root = settings.state_root(root)
        self.images = f"{self.root}/images"
        # Each image's parsed image.json, by directory name, with the file's
        # inode and mtime: a file written anew (an image removed and
        # imported again) is read again.
        self._records = {}
        settings.secure(self.root)
        os.makedirs(self.images, mode=0o700, exist_ok=True)
        self.cleanup_partial()

    def _discard(self, name: str) -> None:
        """Remove images/<name>; the rootfs is emptied first, relative to itself, to keep paths short."""
        images_fd = os.open(self.images, treeops.DIR_FLAGS)
        try:
            dir_fd = treeops.open_dir(images_fd, name.encode())
            try:
                try:
                    treeops.remove_dir(dir_fd, b"rootfs")
                except FileNotFoundError:
                    pass
            finally:
                os.close(dir_fd)
            treeops.remove_dir(images_fd, name.encode())
        finally:
            os.close(images_fd)

    def _partial(self, prefix: str) -> list[str]:
        """The names under images/ that start with prefix."""
        return [name for name in os.listdir(self.images) if name.startswith(prefix)]

    def cleanup_partial(self) -> int:
        """Remove what killed imports and removals left behind; the number of directories removed."""
        removed = 0
        with directory_locked(self.images):
            for name in self._partial(TMP_PREFIX):
                fd = os.open(f"{self.images}/{name}", treeops.DIR_FLAGS)
                try:
                    if _flock(fd):
                        self._discard(name)
                        removed += 1
                finally:
                    os.close(fd)
        return removed

    def _reserve(self, name: str) -> tuple[str, int]:
        tag = _sha256(name.encode())[:16]
        with directory_locked(self.images):
            if any(info.name == name for info in self.list()):
                raise Conflict(f"image {name!r} already exists; remove it first")
            for partial in self._partial(f"{TMP_PREFIX}{tag}-"):
                fd = os.open(f"{self.images}/{partial}", treeops.DIR_FLAGS)
                try:
                    if not _flock(fd):
                        raise Conflict(f"image {name!r} is being imported by another process")
                    self._discard(partial)
                finally:
                    os.close(fd)
            mark_top_dir(self.images)
            tmp = f"{self.images}/{TMP_PREFIX}{tag}-{os.urandom(8).hex()}"
            os.mkdir(tmp, mode=0o700)
            fd = os.open(tmp, treeops.DIR_FLAGS)
            _flock(fd)
        return tmp, fd

    def import_archive(self, src, name: str, limits: ImportLimits | None = None) -> ImageInfo:
        """Import a rootfs tar, docker save or OCI archive (a path or a binary file object) as image `name`."""
        _check_name(name)
        limits = ImportLimits() if limits is None else limits
        if not isinstance(limits, ImportLimits):
            raise InvalidArgument("limits must be an ImportLimits")
        opened = _open_source(src) if isinstance(src, (str, os.PathLike)) else None
        try:
            return self._import(opened or src, name, limits)
        finally:
            if opened is not None:
                opened.close()

    def pull(self, reference: str, name: str | None = None, **options) -> ImageInfo:
        """Pull an image from a registry (options: runtime.image.registry.pull.pull's)."""
        # Here: the client's imports (http.client, ssl) are for pulls, not for every store a start makes.
        from runtime.image.registry.pull import pull

        return pull(self, reference, name=name, **options)

    def _import(self, src, name: str, limits: ImportLimits, fill=None, source: dict | None = None) -> ImageInfo:
        # Here, not at the top: the unpackers' imports (zstandard, tarfile,
        # decimal, threads) would cost every `python -m runtime run` ~30 ms,
        # and datetime another 1 ms.
        from datetime import datetime, timezone

        from runtime.image.unpack import unpack

        tmp, lock_fd = self._reserve(name)
        committed = False
        try:
            os.mkdir(f"{tmp}/rootfs", mode=0o755)
            # The container's `/` when the archive has no `./`: 0755 whatever the umask (root's is 077).
            os.chmod(f"{tmp}/rootfs", 0o755)
            os.mkdir(f"{tmp}/spool", mode=0o700)
            rootfs_fd = os.open(f"{tmp}/rootfs", treeops.DIR_FLAGS)
            spool_fd = os.open(f"{tmp}/spool", treeops.DIR_FLAGS)
            try:
                result = (fill or _unpacker(unpack, src))(rootfs_fd, spool_fd, limits)
            finally:
                os.close(rootfs_fd)
                os.close(spool_fd)
            treeops.remove_dir(lock_fd, b"spool")
            image_id = _sha256(f"{result.sha256}:{name}:{time.time_ns()}:{os.urandom(8).hex()}".encode())
            info = ImageInfo(
                id=image_id, name=name, sha256=result.sha256, format=result.format,
                compression=result.compression, layers=result.layers,
                size_bytes=result.report.bytes, file_count=result.report.files,
                devices_skipped=result.report.devices_skipped, defaults=result.defaults,
                created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), source=source,
                path=f"{self.images}/{image_id}", rootfs=f"{self.images}/{image_id}/rootfs")
            record = {k: v for k, v in info.to_dict().items() if k not in ("path", "rootfs")}
            with open(os.open(f"{tmp}/image.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), "w") as f:
                f.write(json.dumps(record, indent=2) + "\n")
            with directory_locked(self.images):
                if any(other.name == name for other in self.list()):
                    raise Conflict(f"image {name!r} already exists; remove it first")
                os.rename(tmp, info.path)
                committed = True
            return info
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ImportFailed("the disk is full") from None
            raise
        finally:
            if not committed:
                self._discard(os.path.basename(tmp))
            os.close(lock_fd)

    def add_layer(self, name: str, parent: ImageInfo, fill, defaults: dict) -> ImageInfo:
        """A new image `name`: parent's layers and one more, which fill(fd)
        writes into the empty directory fd in overlay form, returning
        (files, bytes, diff_id). All or nothing, as an import."""
        from datetime import datetime, timezone

        _check_name(name)
        tmp, lock_fd = self._reserve(name)
        committed = False
        try:
            os.mkdir(f"{tmp}/rootfs", mode=0o755)
            os.chmod(f"{tmp}/rootfs", 0o755)
            rootfs_fd = os.open(f"{tmp}/rootfs", treeops.DIR_FLAGS)
            try:
                files, size, diff_id = fill(rootfs_fd)
            finally:
                os.close(rootfs_fd)
            image_id = _sha256(f"{diff_id}:{name}:{time.time_ns()}:{os.urandom(8).hex()}".encode())
            info = ImageInfo(
                id=image_id, name=name, sha256=diff_id, format="commit", compression="none",
                layers=[*parent.layers, f"sha256:{diff_id}"], size_bytes=size, file_count=files,
                devices_skipped=0, defaults=defaults,
                created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), parent=parent.id,
                path=f"{self.images}/{image_id}", rootfs=f"{self.images}/{image_id}/rootfs")
            record = {k: v for k, v in info.to_dict().items() if k not in ("path", "rootfs")}
            with open(os.open(f"{tmp}/image.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), "w") as f:
                f.write(json.dumps(record, indent=2) + "\n")
            with directory_locked(self.images):
                images = self.list()
                if any(other.name == name for other in images):
                    raise Conflict(f"image {name!r} already exists; remove it first")
                if not any(other.id == parent.id for other in images):
                    raise NotFound(f"image {parent.name!r} was removed meanwhile")
                os.rename(tmp, info.path)
                committed = True
            return info
        finally:
            if not committed:
                self._discard(os.path.basename(tmp))
            os.close(lock_fd)

    def chain(self, info: ImageInfo) -> list[ImageInfo]:
        """The image and the images it is layered on, top first."""
        chain = [info]
        while chain[-1].parent is not None:
            if len(chain) > MAX_CHAIN:
                raise InvalidArgument(f"image {info.name!r} is layered more than {MAX_CHAIN} deep")
            try:
                chain.append(self.get(chain[-1].parent))
            except NotFound:
                raise NotFound(f"image {chain[-1].name!r} lacks the image it was committed from") from None
        return chain

    def list(self) -> list[ImageInfo]:
        """Every image, oldest first. An image.json is parsed once per store
        while it is the same file (a start looks its image up); the infos
        share its nested values: do not modify them."""
        images, records = [], {}
        for name in os.listdir(self.images):
            if name.startswith("."):
                continue
            path = f"{self.images}/{name}"
            try:
                st = os.stat(f"{path}/image.json")
                key = (st.st_ino, st.st_mtime_ns)
                cached = self._records.get(name)
                if cached is not None and cached[0] == key:
                    record = cached[1]
                else:
                    with open(f"{path}/image.json") as f:
                        record = json.load(f)
                images.append(ImageInfo(**record, path=path, rootfs=f"{path}/rootfs"))
            except (OSError, ValueError, TypeError):
                continue
            records[name] = (key, record)
        self._records = records
        return sorted(images, key=lambda i: (i.created_at, i.name))

    def get(self, ref: str) -> ImageInfo:
        if not isinstance(ref, str) or not ref:
            raise InvalidArgument("an image reference must be a non-empty name or id")
        images = self.list()
        for match in ([i for i in images if i.name == ref], [i for i in images if i.id == ref]):
            if match:
                return match[0]
        prefix = ref.removeprefix("sha256:")
        matches = [i for i in images if i.id.startswith(prefix)] if re.fullmatch(r"[0-9a-f]+", prefix) else []
        if len(matches) > 1:
            raise InvalidArgument(f"image id prefix {ref!r} is ambiguous")
        if not matches:
            raise NotFound(f"no image named {ref!r}")
        return matches[0]

    def _users(self, image_id: str) -> list[str]:
        users = []
        try:
            containers = sorted(os.listdir(f"{self.root}/containers"))
        except FileNotFoundError:
            containers = []
        for cid in containers:
            try:
                with open(f"{self.root}/containers/{cid}/state.json") as f:
                    data = json.load(f)
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("image_id") == image_id:
                users.append(str(data.get("name") or cid))
        return users

    def remove(self, ref: str) -> ImageInfo:
        """Delete an image no container uses; returns what was removed."""
        with directory_locked(self.images):
            info = self.get(ref)
            users = self._users(info.id)
            if users:
                raise Conflict(f"image {info.name!r} is used by container {', '.join(users)}")
            children = [other.name for other in self.list() if other.parent == info.id]
            if children:
                raise Conflict(f"image {info.name!r} is the base of image {', '.join(children)}")
            doomed = f"{TMP_PREFIX}rm-{info.id[:16]}-{os.urandom(4).hex()}"
            os.rename(info.path, f"{self.images}/{doomed}")
            fd = os.open(f"{self.images}/{doomed}", treeops.DIR_FLAGS)
            _flock(fd)
        try:
            self._discard(doomed)
        finally:
            os.close(fd)
        self._prune_layers()
        return info

    def _prune_layers(self) -> None:
        """Drop cached registry layers no image lists any more."""
        if os.path.isdir(f"{self.images}/.layers"):
            # Here, and only when there is a cache: most stores never pulled.
            from runtime.image.registry.layer_cache import LayerCache

            LayerCache(self.images).prune({d for i in self.list() for d in i.layers})


def _sha256(data: bytes) -> str:
    # Imported here: loading OpenSSL costs every container start from the CLI, which never hashes.
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _unpacker(unpack, src):
    return lambda rootfs_fd, spool_fd, limits: unpack(src, rootfs_fd, spool_fd, limits)


def _open_source(path):
    try:
        return open(path, "rb", buffering=0)
    except FileNotFoundError:
        raise NotFound(f"archive {os.fspath(path)!r} does not exist") from None
    except IsADirectoryError:
        raise InvalidArgument(f"{os.fspath(path)!r} is a directory, not an archive") from None
    except OSError as exc:
        raise ImportFailed(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from None
