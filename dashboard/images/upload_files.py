"""Upload files by name inside UPLOAD_DIR. The web process writes them; the
root worker opens and removes them by a name it checks itself, through a
descriptor of UPLOAD_DIR, so a planted symlink, FIFO, directory or hard link
(or a name with a '/') never makes root read, block on or unlink anything
else."""

import errno
import os
import re
import secrets
import stat

from django.conf import settings

from runtime import NotFound

UPLOAD_NAME = re.compile(r"[0-9a-f]{32}\.upload")


class UploadRefused(Exception):
    """A name or file in UPLOAD_DIR that the worker will not touch."""


def upload_name_new() -> str:
    return f"{secrets.token_hex(16)}.upload"


def upload_path(name: str):
    """Where the web process writes upload `name` (a name it made itself)."""
    return settings.UPLOAD_DIR / _checked(name)


def _checked(name: str) -> str:
    if not isinstance(name, str) or not UPLOAD_NAME.fullmatch(name):
        raise UploadRefused(f"upload name {name!r} is not <32 hex digits>.upload")
    return name


def _open_dir() -> int:
    try:
        return os.open(settings.UPLOAD_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise UploadRefused(f"cannot open the upload directory: {exc.strerror}") from None


def upload_open(name: str):
    """The upload as a binary file object; NotFound if it is gone, UploadRefused if it is not
    a plain file in UPLOAD_DIR. O_NONBLOCK so that opening a FIFO returns at once (and fstat
    then refuses it)."""
    name = _checked(name)
    dir_fd = _open_dir()
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        fd = os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise NotFound(f"upload {name} is gone") from None
    except OSError as exc:
        reason = "is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise UploadRefused(f"upload {name}: {reason}") from None
    finally:
        os.close(dir_fd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        what = "has other hard links" if stat.S_ISREG(st.st_mode) else "is not a regular file"
        raise UploadRefused(f"upload {name} {what}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb", buffering=0)


def upload_remove(name: str) -> None:
    """Unlink upload `name` in UPLOAD_DIR: unlinkat removes a symlink itself, never its target."""
    name = _checked(name)
    dir_fd = _open_dir()
    try:
        os.unlink(name, dir_fd=dir_fd)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        pass
    finally:
        os.close(dir_fd)
