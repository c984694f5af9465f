"""Fixtures shared by every test: a busybox tarball, a private state root,
a private cgroup parent, and checks that nothing was left behind."""

import os
import uuid
from pathlib import Path

import pytest

from runtime import busybox


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory) -> Path:
    """A `docker export`-shaped busybox rootfs tarball."""
    return busybox.write_tarball(tmp_path_factory.mktemp("busybox") / "busybox.tar")


@pytest.fixture
def state_root(tmp_path, monkeypatch) -> Path:
    """A private TERRARIUM_ROOT for one test."""
    root = tmp_path / "terrarium-root"
    root.mkdir()
    monkeypatch.setenv("TERRARIUM_ROOT", str(root))
    return root


@pytest.fixture
def cgroup_parent(monkeypatch) -> str:
    """A private cgroup parent; the test fails if any cgroup under it is left."""
    parent = f"terrarium-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("TERRARIUM_CGROUP_PARENT", parent)
    yield parent
    root = Path("/sys/fs/cgroup")
    left = sorted(str(p) for p in [root / parent, *root.glob(f"*/{parent}")] if p.is_dir())
    for path in left:
        for child in sorted(Path(path).glob("**/"), key=lambda p: len(str(p)), reverse=True):
            try:
                os.rmdir(child)
            except OSError:
                pass
    assert not left, f"cgroups left behind: {left}"

