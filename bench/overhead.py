"""Host-side cost of running containers: PSS of each shim (from
/proc/<pid>/smaps_rollup), for N `sleep` containers started from this
process, next to the PSS of this (launching) process for reference.

    .venv/bin/python bench/overhead.py [N] [--like-worker] [--forker] [--cli]

--like-worker first loads Django, Celery and the dashboard's tasks, as the
runtime worker has, since a shim forked from it maps that heap too.
--forker starts the shims through a forker (`Runtime(forker=True)`, as the
dashboard's worker does), so they share its small heap instead; the forker
with its zygote and the spare shims it keeps forked ahead (the worker's:
one handed over to the caller ahead, one kept) are reported, and shared
out over the containers in a per-container figure. --cli starts each container from
its own `python -m runtime run -d` process instead (their shims come from
the node's shared forker, which the CLI starts when none runs)."""

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
import glob

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.config import ContainerConfig  # noqa: E402
from runtime.forker import shared as shared_forker  # noqa: E402
from runtime.image import busybox
from runtime.image.store import ImageStore  # noqa: E402
from runtime.lifecycle import Runtime  # noqa: E402
from runtime.linux import procinfo


def pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError(f"no Pss for {pid}")


def remove_parent(parent: str) -> None:
    """The drivers keep the (now empty) parent cgroup; a benchmark leaves none."""
    for path in glob.glob(f"/sys/fs/cgroup/*/{parent}") + glob.glob(f"/sys/fs/cgroup/{parent}"):
        os.rmdir(path)

def forker_pid() -> int:
    for pid in procinfo.children(os.getpid()):
        with open(f"/proc/{pid}/cmdline", "rb") as cmd:
            if b"runtime.forker" in cmd.read().split(b"\0"):
                return pid
    raise RuntimeError("no forker running")

def spare_pids(forker: int, shims: list[int]) -> list[int]:
    """The shims the forker's zygote keeps forked ahead, and their waiting pid 1s."""
    spare = [p for zygote in procinfo.children(forker) for p in procinfo.children(zygote) if p not in shims]
    return spare + [c for p in spare for c in procinfo.children(p)]


def load_worker_heap(state_dir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ["TERRARIUM_STATE_DIR"] = state_dir
    import django

    django.setup()
    import dashboard.containers.tasks  # noqa: F401
    import dashboard.images.tasks  # noqa: F401


def start_from_cli(root: Path, parent: str) -> str:
    """One `python -m runtime run -d` process per container, as a script or an admin starts them."""
    env = dict(os.environ, TERRARIUM_ROOT=str(root), TERRARIUM_CGROUP_PARENT=parent)
    return subprocess.run([sys.executable, "-m", "runtime", "run", "-d", "busybox", "sleep", "600"], env=env,
                          check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent
                          ).stdout.strip()


def main(count: int = 20, like_worker: bool = False, forker: bool = False, cli: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if like_worker:
            load_worker_heap(tmp)
        root = Path(tmp) / "root"
        tar = busybox.write_tarball(Path(tmp) / "busybox.tar")
        ImageStore(root).import_archive(tar, name="busybox")
        parent = f"terrarium-bench-{os.getpid()}"
        rt = Runtime(root=root, cgroup_parent=parent, forker=forker)
        ids = []
        try:
            for _ in range(count):
                if cli:
                    ids.append(start_from_cli(root, parent))
                else:
                    ids.append(rt.run(ContainerConfig(image="busybox", command=["sleep", "600"])).id)
            shims = [rt.get(i).shim_pid for i in ids]
            values = [pss_kib(p) for p in shims]
            launcher = "a worker-like launcher" if like_worker else "one launcher"
            if cli:
                launcher = "one CLI process each"
            once = 0
            if forker or cli:
                # A shim's parent is its forker's zygote.
                pid = forker_pid() if forker else procinfo.parent(procinfo.parent(shims[0]))
                spare = sum(pss_kib(p) for p in spare_pids(pid, shims))
                itself = pss_kib(pid) + sum(pss_kib(z) for z in procinfo.children(pid))
                once = itself + spare
                launcher += (f" through {'a' if forker else 'the shared'} forker ({itself / 1024:.2f} MiB itself "
                             f"with its zygote, and {spare / 1024:.2f} MiB for the shims it keeps forked ahead, "
                             f"once per {'caller' if forker else 'node'})")
            print(f"shim PSS with {count} containers from {launcher}: median {statistics.median(values) / 1024:.2f} MiB, "
                  f"max {max(values) / 1024:.2f} MiB (launcher itself: {pss_kib(os.getpid()) / 1024:.2f} MiB)")
            if forker or cli:
                print(f"  per container with the forker's share: {(sum(values) + once) / count / 1024:.2f} MiB")
        finally:
            for i in ids:
                rt.delete(i, force=True)
            rt.close()
            shared_forker.stop(str(root), parent)
            remove_parent(parent)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 20, like_worker="--like-worker" in sys.argv, forker="--forker" in sys.argv,
         cli="--cli" in sys.argv)
