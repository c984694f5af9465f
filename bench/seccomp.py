"""Cost of the capability and seccomp steps of a container start.

Prints medians: compiling the profile with libseccomp (what `prepare()`
does once per process), applying capabilities + the cached filter in a
freshly forked child (what every container start and exec pays), and the
added cost of one syscall under the filter.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.isolation import capabilities, seccomp  # noqa: E402

RUNS = 200
SYSCALLS = 20000


def in_child(work) -> int:
    """Nanoseconds `work()` took in a forked child, reported through a pipe."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write_fd, str(work()).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        value = int(pipe.read())
    os.waitpid(pid, 0)
    return value


def apply_both() -> int:
    start = time.perf_counter_ns()
    capabilities.apply_default()
    seccomp.apply_default_profile()
    return time.perf_counter_ns() - start


def syscall_loop(filtered: bool):
    def work() -> int:
        if filtered:
            seccomp.apply_default_profile()
        start = time.perf_counter_ns()
        for _ in range(SYSCALLS):
            os.getppid()
        return (time.perf_counter_ns() - start) // SYSCALLS
    return work


def main() -> None:
    builds = []
    for _ in range(20):
        start = time.perf_counter_ns()
        seccomp.build()
        builds.append(time.perf_counter_ns() - start)
    program = seccomp.prepare()
    applies = [in_child(apply_both) for _ in range(RUNS)]
    bare = [in_child(syscall_loop(False)) for _ in range(20)]
    filtered = [in_child(syscall_loop(True)) for _ in range(20)]
    print(f"filter: {len(program) // 8} BPF instructions")
    print(f"build + export with libseccomp (once per process, prepare): median {statistics.median(builds) / 1e6:.2f} ms")
    print(f"apply capabilities + cached filter in a forked child: median {statistics.median(applies) / 1e3:.0f} us "
          f"over {RUNS} runs")
    print(f"getppid: median {statistics.median(bare):.0f} ns unfiltered, {statistics.median(filtered):.0f} ns filtered")


if __name__ == "__main__":
    main()
