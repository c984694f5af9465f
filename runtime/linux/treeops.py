"""Kernel-confined path resolution and tree removal under a directory fd.

Every lookup goes through openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS,
so no symlink and no `..` can lead outside (or anywhere, for symlinks).
Removal walks iteratively, two fds at a time, so a hostile deep tree can
neither exhaust the recursion limit nor the fd table.
"""

import os
import stat

from runtime.linux import syscalls

RESOLVE = syscalls.RESOLVE_BENEATH | syscalls.RESOLVE_NO_SYMLINKS | syscalls.RESOLVE_NO_MAGICLINKS
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW
# No O_NOFOLLOW for openat2: RESOLVE_NO_SYMLINKS already refuses a final
# symlink, and says so with ELOOP where O_NOFOLLOW|O_DIRECTORY says ENOTDIR.
BENEATH_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def open_dir(root_fd: int, rel: bytes) -> int:
    """A new fd for directory rel (b"" is root_fd itself, duplicated) beneath root_fd."""
    if not rel:
        return os.dup(root_fd)
    return syscalls.openat2(root_fd, rel, BENEATH_FLAGS, RESOLVE)


def remove_tree(root_fd: int, rel: bytes) -> tuple[int, int]:
    """Remove rel beneath root_fd, whatever it is; (names removed, bytes of regular files freed)."""
    names = freed = 0
    parent, _, leaf = rel.rpartition(b"/")
    pfd = open_dir(root_fd, parent)
    try:
        st = os.lstat(leaf, dir_fd=pfd)
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(leaf, dir_fd=pfd)
            return 1, _freed(st)
    finally:
        os.close(pfd)
    stack = [(rel, False)]
    while stack:
        path, emptied = stack.pop()
        if emptied:
            parent, _, leaf = path.rpartition(b"/")
            pfd = open_dir(root_fd, parent)
            try:
                os.rmdir(leaf, dir_fd=pfd)
            finally:
                os.close(pfd)
            names += 1
            continue
        stack.append((path, True))
        fd = open_dir(root_fd, path)
        try:
            with os.scandir(fd) as children:
                for child in children:
                    name = os.fsencode(child.name)
                    st = child.stat(follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode):
                        stack.append((path + b"/" + name, False))
                    else:
                        os.unlink(name, dir_fd=fd)
                        names += 1
                        freed += _freed(st)
        finally:
            os.close(fd)
    return names, freed


def remove_dir(parent_fd: int, name: bytes) -> None:
    """Remove directory name of parent_fd and everything in it.

    Children are removed relative to the directory itself, so paths stay as
    short as the image made them (the kernel takes at most PATH_MAX).
    """
    fd = syscalls.openat2(parent_fd, name, BENEATH_FLAGS, RESOLVE)
    try:
        for child in os.listdir(fd):
            remove_tree(fd, os.fsencode(child))
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)


def _freed(st: os.stat_result) -> int:
    return st.st_size if stat.S_ISREG(st.st_mode) and st.st_nlink == 1 else 0
