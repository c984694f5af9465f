"""A container's writable layer on a disk of its own, for its disk limit.

The layer of a container with `disk_bytes` is an ext4 filesystem in a
sparse file, `<root>/containers/<id>/disk.img`, as big as the limit: the
kernel refuses a write past it with ENOSPC ("No space left on device"), as
on any full disk, and nothing outside the file notices. The host's
filesystems need no project quotas (ext4 without the quota feature, or a
kernel built without quota formats, as here), and a full layer cannot reach
another container's or the host's free space, blocks or inodes.

`prepare` formats the image at create, under a temporary name renamed into
place once complete: a container whose limit was not set has no image, and
its start fails. At each start the launcher attaches the image to a free
loop device and mounts it detached (`open_mount`, about 0.6 ms), and the
container's pid 1 moves that mount onto its staging tmpfs (`attach`), in
its own mount namespace: the host never has a mount point for it. The loop
device clears itself when the filesystem's last mount goes, which is when
the container's overlay goes (the shim holds it until it has recorded the
exit): a stopped or crashed container holds no loop device, and delete
removes the image with the container's directory.
"""

import errno
import os
import subprocess

from runtime.errors import NotPermitted
from runtime.linux import syscalls

IMAGE = "disk.img"
MKFS_PATHS = ("/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4")
# -m 0: no blocks kept for root, who owns the container anyway. -i: one
# inode per 16 KiB, ext4's usual ratio, whatever the size. Lazy inode table
# and journal initialisation, with noinit_itable at mount: the file is all
# holes, which read as zeros, so nothing needs writing ahead and the image
# takes only what mkfs writes (under 2 MiB) until the container writes.
MKFS_OPTIONS = ("-q", "-F", "-t", "ext4", "-m", "0", "-i", "16384",
                "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=0:0")
# discard: a file deleted in the container gives its blocks back to the
# state root's filesystem (the loop device punches holes in the image).
MOUNT_FLAGS = ("noinit_itable", "discard")
LAYER_DIRS = ("upper", "work")


def image_path(container_dir: str) -> str:
    return f"{container_dir}/{IMAGE}"


def prepare(container_dir: str, limit_bytes: int) -> str:
    """Format the container's disk image (replacing any), with empty upper
    and work dirs at its root; returns its path."""
    tmp = f"{container_dir}/{IMAGE}.tmp-{os.urandom(6).hex()}"
    template = f"{tmp}.d"
    os.mkdir(template, 0o700)
    try:
        for name in LAYER_DIRS:
            os.mkdir(f"{template}/{name}")
            # As the host directories of a layer without a limit (overlay.container_dirs).
            os.chmod(f"{template}/{name}", 0o755)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, limit_bytes)
        finally:
            os.close(fd)
        mkfs = next((path for path in MKFS_PATHS if os.path.exists(path)), "mkfs.ext4")
        try:
            done = subprocess.run([mkfs, *MKFS_OPTIONS, "-d", template, tmp], capture_output=True, text=True)
        except FileNotFoundError:
            raise NotPermitted("disk limits need mkfs.ext4 (package e2fsprogs)") from None
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["failed"])[-1]
            raise NotPermitted(f"cannot make the container's disk: mkfs.ext4: {detail}")
        path = image_path(container_dir)
        os.rename(tmp, path)
        return path
    finally:
        for name in LAYER_DIRS:
            try:
                os.rmdir(f"{template}/{name}")
            except FileNotFoundError:
                pass
        os.rmdir(template)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def open_mount(image: str) -> int:
    """The disk image's filesystem, mounted through a loop device but
    attached nowhere (fsmount): a detached mount that lives as long as the
    fd unless moved into a mount namespace, and the loop device with it (it
    clears itself when the filesystem's last mount goes).

    Made by the launcher, outside the container: the container's pid 1 is
    already in its cgroup, whose device rules (rightly) deny it the loop
    devices. Making it changes no mount namespace, so no forker's spare
    goes stale."""
    image_fd = os.open(image, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        device, loop_fd = attach_loop(image_fd)
    finally:
        os.close(image_fd)
    try:
        fs_fd = syscalls.fsopen("ext4")
        try:
            syscalls.fsconfig(fs_fd, syscalls.FSCONFIG_SET_STRING, "source", device)
            for flag in MOUNT_FLAGS:
                syscalls.fsconfig(fs_fd, syscalls.FSCONFIG_SET_FLAG, flag)
            syscalls.fsconfig(fs_fd, syscalls.FSCONFIG_CMD_CREATE)
            return syscalls.fsmount(fs_fd)
        finally:
            os.close(fs_fd)
    finally:
        # The filesystem holds the device now; if it was not made, this last close clears it.
        os.close(loop_fd)


def attach(mount_fd: int, target: str) -> tuple[str, str]:
    """Move the mount open_mount made onto target (made here), in this
    process's mount namespace; (upper, work) on it. Run by pid 1."""
    os.mkdir(target, 0o700)
    syscalls.move_mount_fd(mount_fd, target)
    return f"{target}/upper", f"{target}/work"


def attach_loop(image_fd: int) -> tuple[str, int]:
    """A free loop device backed by image_fd: (its path, an fd holding it)."""
    try:
        control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        raise OSError(2, "no /dev/loop-control: disk limits need the loop module") from None
    try:
        while True:
            device = f"/dev/loop{syscalls.loop_get_free(control)}"
            loop_fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
            try:
                syscalls.loop_configure(loop_fd, image_fd, syscalls.LO_FLAGS_AUTOCLEAR)
                return device, loop_fd
            except OSError as exc:
                os.close(loop_fd)
                # Another process configured that free device first: ask for another.
                if exc.errno != errno.EBUSY:
                    raise
    finally:
        os.close(control)
