"""New small files of a layer are written by threads while the archive is
read on (runtime/image/file_writers.py). The order of the archive still
holds wherever it matters, and a thread's failure is the import's one
clear error, with nothing left behind and no thread left running."""

import io
import os
import threading

import pytest

from runtime.errors import ImportFailed
from runtime.image.store import ImageStore
from image_archives import E, docker_save, tar_bytes, tree


def writer_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("layer-files")]


def test_a_directory_declared_again_keeps_the_files_queued_in_it(state_root):
    files = [E(f"g/f{i:03d}", data=b"%d" % i) for i in range(40)]
    archive = tar_bytes([E("g", "dir"), *files, E("g", "dir", mode=0o750, uid=7)])
    got = tree(ImageStore().import_archive(io.BytesIO(archive), name="redeclared").rootfs)
    assert got[b"g"] == ("dir", 7, 0, 0o750)
    assert [got[f"g/f{i:03d}".encode()][4] for i in range(40)] == [b"%d" % i for i in range(40)]


def test_a_hardlink_to_a_file_just_queued_links_its_whole_content(state_root):
    archive = tar_bytes([E("a", data=b"x" * 5000), E("b", "hardlink", link="a"), E("a2", data=b"y"),
                         E("c", "hardlink", link="a2")])
    rootfs = ImageStore().import_archive(io.BytesIO(archive), name="linked").rootfs
    with open(f"{rootfs}/b", "rb") as linked:
        assert linked.read() == b"x" * 5000
    assert os.stat(f"{rootfs}/c").st_ino == os.stat(f"{rootfs}/a2").st_ino


def test_a_later_layer_replaces_files_an_earlier_one_queued(state_root):
    lower = tar_bytes([E(f"etc/f{i}", data=b"lower") for i in range(30)])
    upper = tar_bytes([E(f"etc/f{i}", data=b"upper") for i in range(0, 30, 2)] + [E("etc/.wh.f1")])
    got = tree(ImageStore().import_archive(io.BytesIO(docker_save([lower, upper])), name="layers").rootfs)
    assert [got[f"etc/f{i}".encode()][4] for i in range(0, 30, 2)] == [b"upper"] * 15
    assert b"etc/f1" not in got and got[b"etc/f3"][4] == b"lower"


def test_a_full_disk_in_a_writer_thread_names_the_entry_and_leaves_nothing(small_disk):
    archive = tar_bytes([E(f"data/f{i:03d}", data=os.urandom(64 << 10)) for i in range(40)])
    store = ImageStore(small_disk)
    with pytest.raises(ImportFailed, match=r"^entry 'data/f0[0-9][0-9]': the disk is full$"):
        store.import_archive(io.BytesIO(archive), name="too-big")
    assert sorted(p.name for p in (small_disk / "images").iterdir()) == [".lock"]
    assert writer_threads() == []


def test_a_hostile_entry_after_queued_files_is_refused_and_stops_the_threads(state_root):
    files = [E(f"ok/f{i:03d}", data=b"fine") for i in range(200)]
    archive = tar_bytes([*files, E("../escape", data=b"x")])
    with pytest.raises(ImportFailed, match=r"'\.\.'"):
        ImageStore().import_archive(io.BytesIO(archive), name="hostile")
    assert [p.name for p in (state_root / "images").iterdir() if not p.name.startswith(".")] == []
    assert writer_threads() == []
