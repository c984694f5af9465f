"""Fixtures shared by every test: a busybox tarball, a private state root,
a private cgroup parent, and checks that nothing was left behind."""

import os
import uuid
from pathlib import Path

import pytest

from loop_devices import backed_under
from runtime.image import busybox


def _unified_cgroup() -> bool:
    """Whether /sys/fs/cgroup itself is cgroup2 (the last mount there wins)."""
    mounts = map(str.split, Path("/proc/self/mounts").read_text().splitlines())
    types = [fields[2] for fields in mounts if fields[1] == "/sys/fs/cgroup"]
    return bool(types) and types[-1] == "cgroup2"


def pytest_collection_modifyitems(config, items):
    unified = _unified_cgroup()
    wrong = "v1only" if unified else "v2only"
    skip = pytest.mark.skip(reason=f"/sys/fs/cgroup is {'cgroup v2' if unified else 'not cgroup v2'}")
    for item in items:
        if wrong in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory) -> Path:
    """A `docker export`-shaped busybox rootfs tarball."""
    return busybox.write_tarball(tmp_path_factory.mktemp("busybox") / "busybox.tar")


@pytest.fixture
def state_root(tmp_path, monkeypatch) -> Path:
    """A private TERRARIUM_ROOT for one test; the test fails if a loop
    device (a container's disk) backed by a file under it is left."""
    root = tmp_path / "terrarium-root"
    root.mkdir()
    monkeypatch.setenv("TERRARIUM_ROOT", str(root))
    yield root
    left = backed_under(root)
    assert not left, f"loop devices left behind: {left}"


@pytest.fixture
def cgroup_parent(monkeypatch) -> str:
    """A private cgroup parent, removed afterwards; the test fails if any
    cgroup under it is left (the drivers create the parent and keep it)."""
    parent = f"terrarium-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TERRARIUM_CGROUP_PARENT", parent)
    yield parent
    root = Path("/sys/fs/cgroup")
    parents = [p for p in [root / parent, *root.glob(f"*/{parent}")] if p.is_dir()]
    left = sorted(str(child) for p in parents for child in p.iterdir() if child.is_dir())
    for path in parents:
        for child in sorted(path.glob("**/"), key=lambda p: len(str(p)), reverse=True):
            try:
                os.rmdir(child)
            except OSError:
                pass
    assert not left, f"cgroups left behind: {left}"

