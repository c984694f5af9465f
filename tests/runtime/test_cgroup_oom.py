"""A memory hog in a 32 MiB cgroup is OOM-killed and counted."""

import signal


from runtime.cgroups import Limits

MiB = 1024 * 1024

HOG = """
import os, sys
pid = os.fork()
if pid == 0:
    chunks = []
    while True:
        chunks.append(b"x" * (4 << 20))
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), flush=True)
"""


def test_memory_hog_is_oom_killed_and_counted(cg):
    cg.create("hog", Limits(memory_bytes=32 * MiB))
    assert cg.driver.oom_kills("hog") == 0
    proc = cg.start("hog", HOG, stdout=-1)
    out, _ = proc.communicate(timeout=60)
    assert int(out) == -signal.SIGKILL
    assert proc.returncode == 0
    assert cg.driver.oom_kills("hog") == 1
    stats = cg.driver.stats("hog")
    assert stats["oom_kills"] == 1
    assert stats["memory_limit_bytes"] == 32 * MiB


def test_process_under_the_memory_limit_is_not_killed(cg):
    cg.create("fits", Limits(memory_bytes=64 * MiB))
    proc = cg.start("fits", "data = b'x' * (16 << 20)\nprint(len(data))", stdout=-1)
    out, _ = proc.communicate(timeout=60)
    assert int(out) == 16 * MiB
    assert cg.driver.oom_kills("fits") == 0
