"""The copy-on-write view of an image a container runs in.

The image rootfs is the read-only lower layer; each container writes only
to its own `upper/` (overlayfs needs `work/` on the same filesystem). Above
the image sits the init layer, one for every container of a state root, as
Docker has one per container: the mount points the runtime needs,
/etc/hostname, /etc/hosts and /etc/resolv.conf (bind-mounted over at start,
see mounts.bind_etc) and /proc, /sys and /dev, so that no start copies a
directory up into the container's layer to make one.
`mount_overlay` makes no assumption about the mount namespace it runs in:
the container runtime calls it inside the container's new one.
"""

import os

from runtime.errors import InvalidArgument, NotPermitted
from runtime.linux import syscalls, treeops

# overlayfs splits its options on ',' and lowerdir on ':'; '\\' escapes them.
_SPECIAL = (",", ":", "\\")


def container_dirs(root, container_id: str) -> dict[str, str]:
    """Create `<root>/containers/<id>/{upper,work}`; their paths by name. (The
    overlay is mounted in the container's own mount namespace, on a directory
    of its pid 1's, see filesystem.stage: the host has no mount point for it.)"""
    if not container_id or "/" in container_id or container_id in (".", ".."):
        raise InvalidArgument(f"invalid container id {container_id!r}")
    base = f"{os.fspath(root)}/containers/{container_id}"
    dirs = {name: f"{base}/{name}" for name in ("upper", "work")}
    for path in dirs.values():
        os.makedirs(path, mode=0o755, exist_ok=True)
        # The upper dir's mode is the container's `/`, whatever the caller's umask (root's is 077).
        os.chmod(path, 0o755)
    return dirs


def reset_layer(root, container_id: str) -> None:
    """Empty the container's upper and work dirs: a volatile layer that was
    mounted once is not to be trusted (overlayfs refuses to mount it again)."""
    dirs = container_dirs(root, container_id)
    base = os.open(os.path.dirname(dirs["upper"]), treeops.DIR_FLAGS)
    try:
        for name in ("upper", "work"):
            treeops.remove_dir(base, name.encode())
            os.mkdir(name, 0o755, dir_fd=base)
            os.chmod(name, 0o755, dir_fd=base)
    finally:
        os.close(base)


INIT_LAYER = "init-layer"
INIT_DIRS = ("etc", "proc", "sys", "dev")
INIT_FILES = ("etc/hostname", "etc/hosts", "etc/resolv.conf")


def init_layer(root) -> str:
    """`<root>/init-layer`, made on first use: in a temporary directory
    renamed into place, so that no start sees half of it."""
    path = f"{os.fspath(root)}/{INIT_LAYER}"
    if os.path.isdir(path):
        return path
    tmp = f"{path}.tmp-{os.urandom(6).hex()}"
    os.makedirs(tmp, mode=0o755)
    # Modes set, not asked of the umask (root's is 077): the top layer's /etc
    # is every container's unless its image has one.
    for name in INIT_DIRS:
        os.mkdir(f"{tmp}/{name}", 0o755)
        os.chmod(f"{tmp}/{name}", 0o755)
    for name in INIT_FILES:
        os.close(os.open(f"{tmp}/{name}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))
        os.chmod(f"{tmp}/{name}", 0o644)
    try:
        os.rename(tmp, path)
    except OSError:
        # Another start made it first.
        base = os.open(os.path.dirname(tmp), treeops.DIR_FLAGS)
        try:
            treeops.remove_dir(base, os.path.basename(tmp).encode())
        finally:
            os.close(base)
    return path


def overlay_options(lower, upper, work, volatile: bool = False) -> str:
    """The overlayfs mount data for read-only lower dirs (one path, or a list, top first)."""
    layers = [os.fspath(p) for p in lower] if isinstance(lower, (list, tuple)) else [os.fspath(lower)]
    for path in layers:
        if any(ch in path for ch in _SPECIAL):
            raise InvalidArgument(f"overlay lowerdir {path!r} contains one of , : \\")
    paths = {"upperdir": os.fspath(upper), "workdir": os.fspath(work)}
    for key, path in paths.items():
        if any(ch in path for ch in _SPECIAL):
            raise InvalidArgument(f"overlay {key} {path!r} contains one of , : \\")
    options = [f"lowerdir={':'.join(layers)}", *(f"{key}={path}" for key, path in paths.items())]
    return ",".join(options) + (",volatile" if volatile else "")


def mount_overlay(lower, upper, work, target, volatile: bool = False) -> None:
    """Mount the overlay of lower (read-only; a path or a list, top first) and upper at target."""
    options = overlay_options(lower, upper, work, volatile)
    try:
        syscalls.mount("overlay", target, "overlay", 0, options)
    except OSError as exc:
        raise NotPermitted(f"cannot mount the overlay on {os.fspath(target)}: {exc.strerror}") from None
