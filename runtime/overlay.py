"""The copy-on-write view of an image a container runs in.

The image rootfs is the read-only lower layer; each container writes only
to its own `upper/` (overlayfs needs `work/` on the same filesystem).
`mount_overlay` makes no assumption about the mount namespace it runs in:
the container runtime calls it inside the container's new one.
"""

import os

from runtime import syscalls
from runtime.errors import InvalidArgument, NotPermitted

# overlayfs splits its options on ',' and lowerdir on ':'; '\\' escapes them.
_SPECIAL = (",", ":", "\\")


def container_dirs(root, container_id: str) -> dict[str, str]:
    """Create `<root>/containers/<id>/{upper,work,rootfs}`; their paths by name."""
    if not container_id or "/" in container_id or container_id in (".", ".."):
        raise InvalidArgument(f"invalid container id {container_id!r}")
    base = f"{os.fspath(root)}/containers/{container_id}"
    dirs = {name: f"{base}/{name}" for name in ("upper", "work", "rootfs")}
    for path in dirs.values():
        os.makedirs(path, mode=0o755, exist_ok=True)
    return dirs


def overlay_options(lower, upper, work) -> str:
    """The overlayfs mount data for one read-only lower dir."""
    paths = {"lowerdir": os.fspath(lower), "upperdir": os.fspath(upper), "workdir": os.fspath(work)}
    for key, path in paths.items():
        if any(ch in path for ch in _SPECIAL):
            raise InvalidArgument(f"overlay {key} {path!r} contains one of , : \\")
    return ",".join(f"{key}={path}" for key, path in paths.items())


def mount_overlay(lower, upper, work, target) -> None:
    """Mount the overlay of lower (read-only) and upper at target."""
    options = overlay_options(lower, upper, work)
    try:
        syscalls.mount("overlay", target, "overlay", 0, options)
    except OSError as exc:
        raise NotPermitted(f"cannot mount the overlay on {os.fspath(target)}: {exc.strerror}") from None
