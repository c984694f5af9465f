"""Imports are all or nothing: a killed importer leaves no visible image and
its leftovers go at the next start; two imports of one name cannot both
win; a full disk is a clean error with nothing left behind."""

import io
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from runtime.errors import Conflict, ImportFailed
from runtime.image.store import ImageStore
from image_archives import E, tar_bytes

REPO = Path(__file__).resolve().parents[2]


def many_files(count=400, size=64 << 10) -> bytes:
    return tar_bytes([E(f"data/f{i:04d}", data=bytes([i % 256]) * size) for i in range(count)])


def start_import(root, name):
    return subprocess.Popen([sys.executable, "-m", "runtime", "--root", str(root), "images", "import", "-",
                             "--name", name], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def wait_for_partial(images: Path) -> Path:
    """The importer's temporary dir once it holds unpacked files (pytest-timeout bounds the wait)."""
    while True:
        for tmp in images.glob(".tmp-*"):
            if any((tmp / "rootfs" / "data").glob("f*")):
                return tmp
        os.sched_yield()


def visible_images(images: Path) -> list[str]:
    return [p.name for p in images.iterdir() if not p.name.startswith(".")]


@contextmanager
def halfway(state_root: Path, name: str, archive: bytes):
    """An import of name fed half its archive, and the partial directory it
    has on disk by then; killed if still running at the end of the block."""
    proc = start_import(state_root, name)
    try:
        proc.stdin.write(archive[:len(archive) // 2])
        proc.stdin.flush()
        yield proc, wait_for_partial(state_root / "images")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def rest(archive: bytes) -> bytes:
    return archive[len(archive) // 2:]


def kill_halfway(state_root: Path, archive: bytes) -> Path:
    """SIGKILL an import after half its archive; the partial directory it left."""
    with halfway(state_root, "victim", archive) as (proc, partial):
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    return partial


def test_killed_import_leaves_no_image_and_next_start_cleans_up(state_root):
    archive = many_files()
    store = ImageStore()
    partial = kill_halfway(state_root, archive)
    assert partial.exists() and visible_images(state_root / "images") == []
    assert store.cleanup_partial() == 1
    assert not partial.exists()
    out = subprocess.run([sys.executable, "-m", "runtime", "images", "ls", "--json"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_store_start_removes_leftovers(state_root):
    archive = many_files(count=50)
    partial = kill_halfway(state_root, archive)
    ImageStore()
    assert not partial.exists()
    assert sorted(p.name for p in (state_root / "images").iterdir()) == [".lock"]


def test_two_imports_of_one_name_one_wins_the_other_gets_conflict(state_root):
    archive = many_files(count=100, size=4096)
    with halfway(state_root, "shared-name", archive) as (first, _):
        with pytest.raises(Conflict, match="image 'shared-name' is being imported by another process"):
            ImageStore().import_archive(io.BytesIO(archive), name="shared-name")
        out, err = first.communicate(rest(archive))
    assert first.returncode == 0, err
    image_id = out.decode().strip()
    assert ImageStore().get("shared-name").id == image_id
    with pytest.raises(Conflict, match="image 'shared-name' already exists"):
        ImageStore().import_archive(io.BytesIO(archive), name="shared-name")
    assert [i.id for i in ImageStore().list()] == [image_id]


def test_other_names_import_while_one_is_in_progress(state_root):
    archive = many_files(count=60, size=4096)
    with halfway(state_root, "slow", archive) as (first, _):
        assert ImageStore().import_archive(io.BytesIO(archive), name="fast").name == "fast"
        first.communicate(rest(archive))
    assert sorted(i.name for i in ImageStore().list()) == ["fast", "slow"]


def test_full_disk_is_a_clean_error_and_leaves_nothing(small_disk):
    archive = tar_bytes([E("small", data=b"s"), E("big", data=os.urandom(2 << 20))])
    store = ImageStore(small_disk)
    with pytest.raises(ImportFailed, match=r"entry 'big': the disk is full"):
        store.import_archive(io.BytesIO(archive), name="too-big")
    assert sorted(p.name for p in (small_disk / "images").iterdir()) == [".lock"]
    assert store.import_archive(io.BytesIO(tar_bytes([E("fits", data=b"x" * 1000)])), name="fits").file_count == 1
