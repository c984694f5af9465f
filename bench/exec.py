"""Open-to-exit of `true` exec'd into a running busybox container through
Runtime.exec (what the browser shell, `python -m runtime exec` and checks
use), versus `nsenter` into the same container's namespaces and a bare
posix_spawn of `true` on the host, in the same invocation. Medians of RUNS
runs, the three blocks taken ROUNDS times in turn so that a noisy moment of
this shared machine hits each alike; ratios against both references."""

import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.config import ContainerConfig  # noqa: E402
from runtime.image import busybox  # noqa: E402
from runtime.image.store import ImageStore  # noqa: E402
from runtime.lifecycle import Runtime  # noqa: E402

RUNS = 50
ROUNDS = 5
TRUE = shutil.which("true")
NSENTER = shutil.which("nsenter")


def median_ms(fn) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    root = tmp / "root"
    parent = f"terrarium-bench-{os.getpid()}"
    rt = Runtime(root=root, cgroup_parent=parent)
    state = None
    try:
        ImageStore(root).import_archive(busybox.write_tarball(tmp / "busybox.tar"), name="busybox")
        state = rt.run(ContainerConfig(image="busybox", command=["sleep", "600"]))

        def terrarium():
            sess = rt.exec(state.id, ["true"])
            assert sess.wait() == 0
            sess.close()

        def nsenter():
            subprocess.run([NSENTER, "-t", str(state.pid), "-a", "true"], check=True)

        def spawn():
            pid = os.posix_spawn(TRUE, [TRUE], {})
            os.waitpid(pid, 0)

        blocks = {"terrarium": terrarium, "nsenter": nsenter, "spawn": spawn}
        times = {key: [] for key in blocks}
        for fn in blocks.values():
            fn()
        for _ in range(ROUNDS):
            for key, fn in blocks.items():
                times[key].append(median_ms(fn))
        ours, ns, bare = (statistics.median(times[key]) for key in blocks)
        print(f"exec open-to-exit of true, median of {ROUNDS} rounds of {RUNS}: Runtime.exec {ours:.2f} ms, "
              f"nsenter -a {ns:.2f} ms, posix_spawn on the host {bare:.2f} ms; "
              f"ratio vs nsenter {ours / ns:.2f}, vs posix_spawn {ours / bare:.2f}")
    finally:
        if state is not None:
            rt.delete(state.id, force=True)
        # The drivers keep the (now empty) parent cgroup; a benchmark leaves none.
        for path in glob.glob(f"/sys/fs/cgroup/*/{parent}") + glob.glob(f"/sys/fs/cgroup/{parent}"):
            os.rmdir(path)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
