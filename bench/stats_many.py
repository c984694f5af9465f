"""Cost of one `Runtime.stats_many()` pass, the sampler's runtime work each
tick: N running busybox `sleep` containers, median of PASSES passes, split
into the cgroup reads alone (`driver.stats` per container) and the rest
(container records, liveness, network counters, cpu_percent).

Needs root; removes its containers, state root and cgroup parent."""

import glob
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.config import ContainerConfig  # noqa: E402
from runtime.image import busybox  # noqa: E402
from runtime.image.store import ImageStore  # noqa: E402
from runtime.lifecycle import Runtime  # noqa: E402

PASSES = 30


def median_ms(fn) -> float:
    times = []
    for _ in range(PASSES):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        ImageStore(root).import_archive(busybox.write_tarball(Path(tmp) / "busybox.tar"), name="busybox")
        parent = f"terrarium-bench-{os.getpid()}"
        rt = Runtime(root=root, cgroup_parent=parent)
        ids = []
        try:
            for _ in range(count):
                ids.append(rt.run(ContainerConfig(image="busybox", command=["sleep", "600"])).id)
            assert len(rt.stats_many()) == count
            # A fresh Runtime per pass is the CLI's case; the sampler keeps one.
            cold = median_ms(lambda: Runtime(root=root, cgroup_parent=parent).stats_many())
            warm = median_ms(rt.stats_many)
            cgroup = median_ms(lambda: [rt.driver.stats(i) for i in ids])
            print(f"stats_many over {count} containers, median of {PASSES}: {warm:.2f} ms per pass "
                  f"(cgroup reads alone {cgroup:.2f} ms, rest {warm - cgroup:.2f} ms); "
                  f"first pass of a new Runtime {cold:.2f} ms; load {open('/proc/loadavg').read().split()[0]}")
        finally:
            for i in ids:
                rt.delete(i, force=True)
            for path in glob.glob(f"/sys/fs/cgroup/*/{parent}"):
                os.rmdir(path)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
