"""Cost of one cgroup stats read, the sampler's per-container work each second.

Makes 100 cgroups (one sleeping process in each) under a private parent,
then prints the median time of `driver.stats()` per container, beside a
reference pass that reads the very same files with plain
`pathlib.Path.read_text()` and no parsing, and the cost of building the
driver (hierarchy detection).
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime import cgroups  # noqa: E402

CONTAINERS = 100
PASSES = 30

V1_FILES = [
    ("cpu", "cpu.stat"), ("cpuacct", "cpuacct.usage"), ("memory", "memory.usage_in_bytes"),
    ("memory", "memory.stat"), ("memory", "memory.limit_in_bytes"), ("memory", "memory.oom_control"),
    ("pids", "pids.current"), ("pids", "pids.max"), ("blkio", "blkio.throttle.io_service_bytes_recursive"),
]
V2_FILES = [
    ("unified", f) for f in
    ("cpu.stat", "memory.current", "memory.stat", "memory.max", "memory.events", "pids.current", "pids.max", "io.stat")
]


def per_container_us(work, names) -> float:
    samples = []
    for _ in range(PASSES):
        start = time.perf_counter_ns()
        for name in names:
            work(name)
        samples.append((time.perf_counter_ns() - start) / len(names) / 1000)
    return statistics.median(samples)


def main() -> None:
    parent = f"terrarium-bench-{os.getpid()}"
    driver = cgroups.driver(parent)
    names = [f"c{i}" for i in range(CONTAINERS)]
    sleepers = []
    try:
        for name in names:
            driver.create(name, cgroups.Limits(memory_bytes=64 << 20, pids_limit=100))
            sleeper = subprocess.Popen(["sleep", "600"])
            sleepers.append(sleeper)
            driver.attach(name, sleeper.pid)
        wanted = V1_FILES if driver.version == "v1" else V2_FILES
        paths = {name: [f"{driver.paths(name)[c]}/{f}" for c, f in wanted] for name in names}

        def reference(name):
            for path in paths[name]:
                Path(path).read_text()

        reference_us = per_container_us(reference, names)
        stats_us = per_container_us(driver.stats, names)
        detect_us = per_container_us(lambda _: cgroups.driver(parent), names[:10])
        print(f"cgroup {driver.version}, {CONTAINERS} cgroups, median of {PASSES} passes")
        print(f"  reference (read_text of the same {len(wanted)} files): {reference_us:8.1f} us/container")
        print(f"  driver.stats():                          {stats_us:8.1f} us/container"
              f"  ratio {stats_us / reference_us:.2f}")
        print(f"  one sampler pass over {CONTAINERS} containers:       {stats_us * CONTAINERS / 1000:8.2f} ms")
        print(f"  cgroups.driver() (detection):            {detect_us:8.1f} us")
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()
        for name in names:
            driver.destroy(name)
        for path in {os.path.dirname(p) for p in driver.paths(names[0]).values()}:
            os.rmdir(path)


if __name__ == "__main__":
    main()
