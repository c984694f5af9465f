"""Mount targets inside a rootfs are opened beneath it, never through a
symlink (runc's 2019 and 2025 CVEs came from following one onto the host)."""

import errno
import os
import stat

import pytest

from runtime.isolation.filesystem import open_beneath


@pytest.fixture
def rootfs(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "null").write_text("")
    (tmp_path / "host").mkdir()
    # An image is free to hold any of these.
    os.symlink("/", tmp_path / "sys")
    os.symlink("../host", tmp_path / "dev" / "pts")
    os.symlink("/etc/passwd", tmp_path / "dev" / "zero")
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    yield tmp_path, fd
    os.close(fd)


def opened(fd: int) -> os.stat_result:
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


def test_a_directory_and_a_file_beneath_the_root_open(rootfs):
    path, fd = rootfs
    assert stat.S_ISDIR(opened(open_beneath(fd, "proc")).st_mode)
    assert opened(open_beneath(fd, "dev/null", directory=False)).st_ino == (path / "dev" / "null").stat().st_ino


@pytest.mark.parametrize("relpath, directory", [
    ("sys", True), ("sys/fs", True), ("dev/pts", True), ("dev/zero", False),
])
def test_a_symlink_anywhere_on_the_way_is_refused(rootfs, relpath, directory):
    _, fd = rootfs
    with pytest.raises(OSError) as raised:
        open_beneath(fd, relpath, directory=directory)
    assert raised.value.errno == errno.ELOOP


def test_a_path_out_of_the_root_is_refused(rootfs):
    _, fd = rootfs
    with pytest.raises(OSError) as raised:
        open_beneath(fd, "../../etc", directory=True)
    assert raised.value.errno == errno.EXDEV


def test_missing_directories_are_made_but_not_through_a_symlink(rootfs):
    path, fd = rootfs
    assert stat.S_ISDIR(opened(open_beneath(fd, "dev/mqueue/deep", create_dirs=True)).st_mode)
    assert (path / "dev" / "mqueue" / "deep").is_dir()
    with pytest.raises(OSError) as raised:
        open_beneath(fd, "dev/pts/made", create_dirs=True)
    assert raised.value.errno == errno.ELOOP
    assert not (path / "host" / "made").exists()
