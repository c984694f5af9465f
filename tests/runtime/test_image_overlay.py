"""The copy-on-write view: a container writes only to its upper dir, the
image rootfs never changes, deleting the container's dirs leaves the image
whole, and the mount works inside a fresh mount namespace."""

import os
import shutil
import stat
from pathlib import Path

import pytest

from runtime.errors import InvalidArgument
from runtime.image.store import ImageStore
from runtime.isolation import overlay
from runtime.linux import syscalls
from forked_child import run_forked
from image_archives import tree


def mounted(path) -> bool:
    return any(line.split()[4] == str(path) for line in Path("/proc/self/mountinfo").read_text().splitlines())


@pytest.fixture
def image(state_root, busybox_tar):
    return ImageStore().import_archive(busybox_tar, name="busybox")


def container_dirs(root, container_id: str) -> dict[str, Path]:
    """overlay.container_dirs as Paths, for the file checks below; the runtime's paths are strings."""
    return {name: Path(path) for name, path in overlay.container_dirs(root, container_id).items()}


def test_container_dirs_are_made_under_the_container(state_root):
    dirs = overlay.container_dirs(state_root, "c1")
    assert dirs == {name: str(state_root / "containers" / "c1" / name) for name in ("upper", "work")}
    assert all(os.path.isdir(path) for path in dirs.values())


@pytest.mark.parametrize("bad", ["", "..", "a/b"])
def test_container_dirs_refuse_bad_ids(state_root, bad):
    with pytest.raises(InvalidArgument):
        overlay.container_dirs(state_root, bad)
    assert not (state_root / "containers").exists() or not any((state_root / "containers").iterdir())


def test_overlay_options_name_the_three_dirs_and_refuse_separators():
    assert overlay.overlay_options("/l", "/u", "/w") == "lowerdir=/l,upperdir=/u,workdir=/w"
    for bad in ("/a,b", "/a:b", "/a\\b"):
        with pytest.raises(InvalidArgument):
            overlay.overlay_options(bad, "/u", "/w")


def test_writes_go_to_the_upper_dir_and_the_image_is_unchanged(state_root, image, tmp_path):
    before = tree(image.rootfs)
    dirs = container_dirs(state_root, "c1")
    merged = tmp_path / "merged"
    merged.mkdir()
    overlay.mount_overlay(image.rootfs, dirs["upper"], dirs["work"], merged)
    try:
        assert (merged / "etc/passwd").read_bytes() == (Path(image.rootfs) / "etc/passwd").read_bytes()
        (merged / "etc/passwd").write_text("changed\n")
        (merged / "tmp/new").write_text("new\n")
        os.unlink(merged / "bin/ls")
        assert (merged / "etc/passwd").read_text() == "changed\n"
        assert not os.path.lexists(merged / "bin/ls")
    finally:
        syscalls.umount2(merged)
    assert not mounted(merged)
    assert tree(image.rootfs) == before
    upper = dirs["upper"]
    assert (upper / "etc/passwd").read_text() == "changed\n" and (upper / "tmp/new").read_text() == "new\n"
    whiteout = os.lstat(upper / "bin/ls")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    shutil.rmtree(state_root / "containers" / "c1")
    assert tree(image.rootfs) == before
    ImageStore().remove("busybox")


def test_mount_works_inside_a_new_mount_namespace(state_root, image, tmp_path):
    dirs = container_dirs(state_root, "c2")
    merged = tmp_path / "merged"
    merged.mkdir()

    def in_namespace():
        syscalls.unshare(syscalls.CLONE_NEWNS)
        syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
        overlay.mount_overlay(image.rootfs, dirs["upper"], dirs["work"], merged)
        (merged / "hello").write_text("from the namespace\n")
        assert mounted(merged)

    status, output = run_forked(in_namespace)
    assert status == 0, output
    assert not mounted(merged)
    assert (dirs["upper"] / "hello").read_text() == "from the namespace\n"
    assert not (Path(image.rootfs) / "hello").exists()
