"""Launch-to-exit of `true` as the dashboard's worker runs it
(`Runtime(forker=True)`), back to back, for two revisions of this
repository, measured in turn in one invocation: ROUNDS rounds, each
RUNS launches with one revision then RUNS with the other, each in its own
process on its own state root and cgroup parent. Prints each round's
median, the medians over rounds and their ratio (B/A). This machine's
speed drifts by a third over minutes; alternating is what makes two
revisions comparable.

    .venv/bin/python bench/compare.py [--cli] REV_A [REV_B]

With --cli, each launch is instead the whole CLI process, `python -m
runtime run --rm busybox true` (the node's shared forker, stopped at the
end of each round), as a script or an admin starts a container.

REV_B defaults to the working tree. A revision is checked out into a
temporary git worktree, removed afterwards."""

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
import subprocess
sys.path.insert(0, sys.argv[1])
from runtime.config import ContainerConfig
from runtime.lifecycle import Runtime
# Either side of the layout change of issue 13 (runtime/ in packages).
try:
    from runtime.forker import shared
    from runtime.image import busybox
    from runtime.image.store import ImageStore
except ImportError:
    from runtime import busybox, sharedforker as shared
    from runtime.imagestore import ImageStore
cli = sys.argv[3] == "cli"
tmp = tempfile.mkdtemp()
parent = f"terrarium-compare-{os.getpid()}"
rt = None
try:
    ImageStore(tmp + "/root").import_archive(busybox.write_tarball(tmp + "/b.tar"), name="busybox")
    rt = Runtime(root=tmp + "/root", cgroup_parent=parent, forker=not cli)
    env = {**os.environ, "TERRARIUM_ROOT": tmp + "/root", "TERRARIUM_CGROUP_PARENT": parent}
    def launch():
        if cli:
            subprocess.run([sys.executable, "-m", "runtime", "run", "--rm", "busybox", "true"],
                           env=env, cwd=sys.argv[1], check=True)
            return
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
    if cli:
        shared.stop(tmp + "/root", parent)
    for path in glob.glob(f"/sys/fs/cgroup/*/{parent}") + glob.glob(f"/sys/fs/cgroup/{parent}"):
        os.rmdir(path)
    shutil.rmtree(tmp)
"""


def measure(checkout: str, mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", ROUND, checkout, str(RUNS), mode], check=True, capture_output=True,
                         text=True, cwd=tempfile.gettempdir())
    return float(out.stdout.split()[-1])


def main(rev_a: str, rev_b: str | None, mode: str) -> None:
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
            for checkout in checkouts:
                # As `make setup` does: with PYTHONDONTWRITEBYTECODE set, a fresh checkout would
                # otherwise compile every module it imports at every launch.
                subprocess.run([sys.executable, "-m", "compileall", "-q", f"{checkout}/runtime"], check=True)
            results = ([], [])
            for _ in range(ROUNDS):
                for i, checkout in enumerate(checkouts):
                    results[i].append(measure(checkout, mode))
            a, b = (statistics.median(r) for r in results)
            for name, rounds, median in ((rev_a, results[0], a), (rev_b or "working tree", results[1], b)):
                print(f"{name}: rounds {' '.join(f'{x:.2f}' for x in rounds)} ms; median {median:.2f} ms")
            what = "whole CLI process `run --rm busybox true`" if mode == "cli" else "launch-to-exit"
            print(f"{what} back to back, median of {ROUNDS} alternated rounds of {RUNS}: B/A {b / a:.3f}")
        finally:
            for path in checkouts:
                if path != str(REPO):
                    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", path], check=False)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--cli"]
    if len(args) not in (1, 2):
        sys.exit(__doc__)
    main(args[0], args[1] if len(args) == 2 else None, "cli" if "--cli" in sys.argv else "worker")
