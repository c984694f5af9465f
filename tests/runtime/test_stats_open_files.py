"""The stats path keeps each container's cgroup files open between passes:
that must neither keep a deleted container's cgroup alive nor give a
restarted container (a new cgroup of the same name) its old counters."""

import os
import subprocess
import sys
from pathlib import Path


from runtime.config import ContainerConfig
from runtime.lifecycle import Runtime


def held_under(paths) -> list[str]:
    """Targets of this process's fds inside any of paths."""
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:  # the fd listdir itself used, closed since
            continue
    return [link for link in links if any(link.startswith(f"{p}/") for p in paths)]


def test_delete_removes_cgroups_whose_stat_files_a_sampler_holds_open(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sleep", "60"]))
    paths = set(state.cgroup_paths.values())
    sampler = Runtime()
    assert sampler.stats_many()[state.id]["pids"] == 1
    sampler.stats_many()
    assert held_under(paths)
    rt.delete(state.id, force=True)
    assert not [p for p in paths if os.path.exists(p)]
    assert state.id not in sampler.stats_many()
    assert not held_under(paths)


def test_a_restarted_container_reports_its_new_cgroup(rt):
    # Only the first run burns CPU: the marker file stays in the container's rootfs.
    script = "if [ -e /burned ]; then exec sleep 600; fi; touch /burned; while :; do :; done"
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", script]))
    # A whole second: the new cgroup's own count (the start's work in it) reached 0.11 s in the emulated VM.
    first = 0
    while first < 1_000_000_000:
        first = rt.stats_many()[state.id]["cpu_usage_ns"]
    rt.stop(state.id, timeout=0.2)
    rt.start(state.id)
    again = rt.stats_many()[state.id]
    assert again["pids"] == 1
    assert again["cpu_usage_ns"] < first / 3


BUDGET_CHECK = """
import os, resource, sys
from runtime.cgroups.open_files import OpenFiles

soft, hard = int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
cache = OpenFiles()
names = sorted(os.listdir(sys.argv[1]))
for _ in range(2):
    for name in names:
        assert cache.read(name, os.path.join(sys.argv[1], name)) == name * 40000, name
print(len(os.listdir("/proc/self/fd")), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


def held_and_soft_limit(tmp_path, soft: int, hard: int) -> tuple[int, int]:
    files_dir = tmp_path / "files"
    files_dir.mkdir(exist_ok=True)
    for i in range(80):
        # Longer than one 64 KiB read.
        (files_dir / f"f{i:02}").write_text(f"f{i:02}" * 40000)
    done = subprocess.run([sys.executable, "-c", BUDGET_CHECK, str(files_dir), str(soft), str(hard)],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    held, limit = done.stdout.split()
    return int(held), int(limit)


def test_past_its_share_of_the_fd_limit_the_cache_raises_the_soft_limit_once(tmp_path):
    held, limit = held_and_soft_limit(tmp_path, 64, 256)
    assert limit == 256
    assert held > 80


def test_at_the_hard_limit_the_rest_are_read_by_opening_them(tmp_path):
    held, limit = held_and_soft_limit(tmp_path, 64, 64)
    assert limit == 64
    assert held <= 64 * 0.7 + 8
