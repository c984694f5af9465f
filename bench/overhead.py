"""Host-side cost of running containers: PSS of each shim (from
/proc/<pid>/smaps_rollup), for N `sleep` containers started from this
process, next to the PSS of this (launching) process for reference.

    .venv/bin/python bench/overhead.py [N] [--like-worker]

--like-worker first loads Django, Celery and the dashboard's tasks, as the
runtime worker has, since a shim forked from it maps that heap too."""

import os
import statistics
import sys
import tempfile
from pathlib import Path
import glob

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime import busybox  # noqa: E402
from runtime.config import ContainerConfig  # noqa: E402
from runtime.imagestore import ImageStore  # noqa: E402
from runtime.lifecycle import Runtime  # noqa: E402


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


def load_worker_heap(state_dir: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ["TERRARIUM_STATE_DIR"] = state_dir
    import django

    django.setup()
    import dashboard.containers.tasks  # noqa: F401
    import dashboard.images.tasks  # noqa: F401


def main(count: int = 20, like_worker: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if like_worker:
            load_worker_heap(tmp)
        root = Path(tmp) / "root"
        tar = busybox.write_tarball(Path(tmp) / "busybox.tar")
        ImageStore(root).import_archive(tar, name="busybox")
        parent = f"terrarium-bench-{os.getpid()}"
        rt = Runtime(root=root, cgroup_parent=parent)
        ids = []
        try:
            for _ in range(count):
                ids.append(rt.run(ContainerConfig(image="busybox", command=["sleep", "600"])).id)
            shims = [rt.get(i).shim_pid for i in ids]
            values = [pss_kib(p) for p in shims]
            launcher = "a worker-like launcher" if like_worker else "one launcher"
            print(f"shim PSS with {count} containers from {launcher}: median {statistics.median(values) / 1024:.2f} MiB, "
                  f"max {max(values) / 1024:.2f} MiB (launcher itself: {pss_kib(os.getpid()) / 1024:.2f} MiB)")
        finally:
            for i in ids:
                rt.delete(i, force=True)
            remove_parent(parent)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--like-worker"]
    main(int(args[0]) if args else 20, like_worker="--like-worker" in sys.argv)
