"""Many starts at once from the threads of one process, as the dashboard's
worker or a script may make them: every one starts, and exits recorded."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from container_testing import TrackedRuntime, left_running, mounts_under

from runtime.config import ContainerConfig
from runtime.image.store import ImageStore


@pytest.mark.parametrize("forker", [False, True], ids=["in-process", "forker"])
def test_fifty_starts_from_threads_all_run(state_root, cgroup_parent, busybox_tar, forker):
    ImageStore(state_root).import_archive(busybox_tar, name="busybox")
    rt = TrackedRuntime(forker=forker)
    try:
        with ThreadPoolExecutor(max_workers=50) as pool:
            states = list(pool.map(lambda i: rt.run(ContainerConfig(image="busybox", command=["sh", "-c", f"exit {i % 7}"])),
                                   range(50)))
        assert [rt.wait(s.id).exit_code for s in states] == [i % 7 for i in range(50)]
    finally:
        for state in rt.list(all=True):
            rt.delete(state.id, force=True)
        rt.close()
    assert not mounts_under(state_root)
    assert not left_running([p for s in states for p in (s.pid, s.shim_pid)])
