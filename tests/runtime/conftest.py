"""Fixtures for the runtime tests: `rt`, a Runtime on a private root and
cgroup parent with the busybox image imported, that removes every container
it made and then checks nothing is left (no mount under the root, no live
shim or container process); `cg`, a cgroup driver that removes what it made."""

import pytest

from cgroup_testing import Tracked
from container_testing import TrackedRuntime, left_running, mounts_under
from runtime import cgroups
from runtime.forker import shared as shared_forker
from runtime.image.store import ImageStore


@pytest.fixture
def rt(state_root, cgroup_parent, busybox_tar):
    ImageStore(state_root).import_archive(busybox_tar, name="busybox")
    runtime = TrackedRuntime()
    yield runtime
    for state in runtime.list(all=True):
        runtime.delete(state.id, force=True)
    # The CLI's containers came from the node's shared forker for this root: it leaves with the test.
    shared_forker.stop(str(state_root), cgroup_parent)
    assert not mounts_under(state_root), "mounts left under the state root"
    assert not left_running(runtime.seen_pids), "container or shim processes left"
    assert not runtime.list(all=True)


@pytest.fixture
def cg(cgroup_parent):
    tracked = Tracked(cgroups.driver())
    yield tracked
    tracked.cleanup()
