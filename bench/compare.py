"""Launch-to-exit of `true` as the dashboard's worker runs it
(`Runtime(forker=True)`), back to back, for two revisions of this
repository, measured in turn in one invocation: ROUNDS rounds, each
RUNS launches with one revision then RUNS with the other, each in its own
process on its own state root and cgroup parent. Prints each round's
median, the medians over rounds and their ratio (B/A). This machine's
speed drifts by a third over minutes; alternating is what makes two
revisions comparable.

    .venv/bin/python bench/compare.py REV_A [REV_B]

REV_B defaults to the working tree. A revision is checked out into a
temporary git worktree, removed afterwards."""

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROUNDS = 6
RUNS = 40

# One process per round: its own root and parent, torn down in finally.
ROUND = """
import glob, os, shutil, statistics, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
from runtime.config import ContainerConfig
from runtime.image import busybox
from runtime.image.store import ImageStore
from runtime.lifecycle import Runtime
tmp = tempfile.mkdtemp()
parent = f"terrarium-compare-{os.getpid()}"
rt = None
try:
    ImageStore(tmp + "/root").import_archive(busybox.write_tarball(tmp + "/b.tar"), name="busybox")
    rt = Runtime(root=tmp + "/root", cgroup_parent=parent, forker=True)
    def launch():
        state = rt.run(ContainerConfig(image="busybox", command=["true"]))
        rt.wait(state.id)
        rt.delete(state.id)
    for _ in range(5):
        launch()
    times = []
    for _ in range(int(sys.argv[2])):
        t = time.perf_counter()
        launch()
        times.append(time.perf_counter() - t)
    print(statistics.median(times) * 1000)
finally:
    if rt is not None:
        rt.close()
    for path in glob.glob(f"/sys/fs/cgroup/*/{parent}") + glob.glob(f"/sys/fs/cgroup/{parent}"):
        os.rmdir(path)
    shutil.rmtree(tmp)
"""


def measure(checkout: str) -> float:
    out = subprocess.run([sys.executable, "-c", ROUND, checkout, str(RUNS)], check=True, capture_output=True,
                         text=True, cwd=tempfile.gettempdir())
    return float(out.stdout.split()[-1])


def main(rev_a: str, rev_b: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        checkouts = []
        try:
            for rev in (rev_a, rev_b):
                if rev is None:
                    checkouts.append(str(REPO))
                    continue
                path = f"{tmp}/{len(checkouts)}"
                subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", path, rev], check=True)
                checkouts.append(path)
            results = ([], [])
            for _ in range(ROUNDS):
                for i, checkout in enumerate(checkouts):
                    results[i].append(measure(checkout))
            a, b = (statistics.median(r) for r in results)
            for name, rounds, median in ((rev_a, results[0], a), (rev_b or "working tree", results[1], b)):
                print(f"{name}: rounds {' '.join(f'{x:.2f}' for x in rounds)} ms; median {median:.2f} ms")
            print(f"launch-to-exit back to back, median of {ROUNDS} alternated rounds of {RUNS}: B/A {b / a:.3f}")
        finally:
            for path in checkouts:
                if path != str(REPO):
                    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", path], check=False)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None)
