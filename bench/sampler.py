"""CPU cost of the stats sampler: 100 running containers sampled at 1 Hz
(the node agent's sampler alone, in its own process, with its Redis
history writes and channel-layer pushes), measured as the process's CPU
time over a minute. Target: at most 2% of one core.

Needs root. Everything it makes (a private Redis, database, state root,
cgroup parent, the containers and the processes it starts) is removed at
the end, also when it fails or gets SIGTERM/SIGHUP/SIGINT.
`stack()` is shared with bench/stats_latency.py."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import SimpleNamespace

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CONTAINERS = int(os.environ.get("BENCH_CONTAINERS", 100))
SECONDS = float(os.environ.get("BENCH_SECONDS", 60))
WARMUP_SECONDS = 5
NODE = "bench-node"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis(tmp: Path, cleanup: ExitStack) -> str:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL,
    )
    cleanup.callback(stop, proc)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


def _containers(count: int, root: Path, cleanup: ExitStack):
    """count busybox `sleep` containers, running, each with its dashboard row."""
    from django.contrib.auth import get_user_model

    from dashboard.containers.models import Container
    from dashboard.images.models import Image
    from dashboard.nodes.services import node_heartbeat
    from runtime.image import busybox
    from runtime.config import ContainerConfig
    from runtime.image.store import ImageStore
    from runtime.lifecycle import Runtime

    user = get_user_model().objects.create_user(username="bench", password="pw-bench")
    node = node_heartbeat(name=NODE)
    info = ImageStore(root).import_archive(str(busybox.write_tarball(root.parent / "busybox.tar")), name="busybox")
    image = Image.objects.create(name="busybox", owner=user, node=node, status="ready", store_name="busybox",
                                 runtime_id=info.id)
    rt = Runtime(root=root)
    # Registered before the first run, so a failure halfway still deletes those already started.
    cleanup.callback(_delete_all, rt)
    rows = []
    for i in range(count):
        row = Container.objects.create(owner=user, image=image, node=node, name=f"b{i}", command=["sleep", "3600"],
                                       memory_bytes=16 << 20, cpus=0.1, pids_limit=16)
        state = rt.run(ContainerConfig(image="busybox", name=row.runtime_name, command=["sleep", "3600"],
                                       memory_bytes=16 << 20, cpus=0.1, pids_limit=16))
        Container.objects.filter(pk=row.pk).update(status="running", runtime_id=state.id)
        rows.append(row)
    return user, rows


def _delete_all(rt) -> None:
    for state in rt.list(all=True):
        try:
            rt.delete(state.id, force=True)
        except Exception as error:
            print(f"bench: could not delete container {state.name}: {error}", file=sys.stderr)


def _remove_cgroup_parent(parent: str) -> None:
    for d in Path("/sys/fs/cgroup").glob(f"*/{parent}"):
        try:
            os.rmdir(d)
        except OSError as error:
            print(f"bench: could not remove {d}: {error}", file=sys.stderr)


def _exit_on(signum, frame):
    # SIGTERM and SIGHUP (a timeout, a closed terminal) unwind like Ctrl-C, through the cleanup.
    raise SystemExit(128 + signum)


@contextmanager
def stack(count: int):
    """A private Redis, database, state root and cgroup parent with `count`
    running containers; env is what a dashboard process needs to join.
    Whatever got made is removed on the way out, however it is left."""
    if os.geteuid() != 0:
        sys.exit("bench: needs root (containers)")
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on)
    with ExitStack() as cleanup:
        tmp = Path(tempfile.mkdtemp(prefix="terrarium-bench-"))
        cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
        redis_url = _redis(tmp, cleanup)
        env = {
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
            "REDIS_URL": redis_url,
            "NODE_NAME": NODE,
            "TERRARIUM_ROOT": str(tmp / "root"),
            "TERRARIUM_CGROUP_PARENT": f"terrarium-bench-{uuid.uuid4().hex[:8]}",
            "TERRARIUM_STATE_DIR": str(tmp / "state"),
            "LOG_LEVEL": "WARNING",
        }
        os.environ.update(env)
        cleanup.callback(_remove_cgroup_parent, env["TERRARIUM_CGROUP_PARENT"])
        (tmp / "root").mkdir()
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        user, rows = _containers(count, tmp / "root", cleanup)
        yield SimpleNamespace(env={**os.environ, **env}, user=user, containers=rows, tmp=tmp, cleanup=cleanup)


def start_sampler(env: dict, cleanup: ExitStack) -> subprocess.Popen:
    code = (
        "import asyncio, django; django.setup(); "
        f"from dashboard.monitoring import sampler; asyncio.run(sampler.run({NODE!r}))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env)
    cleanup.callback(stop, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def main() -> None:
    with stack(CONTAINERS) as s:
        proc = start_sampler(s.env, s.cleanup)
        time.sleep(WARMUP_SECONDS)
        process = psutil.Process(proc.pid)
        cpu0, t0 = _cpu_seconds(process), time.monotonic()
        time.sleep(SECONDS)
        cpu1, t1 = _cpu_seconds(process), time.monotonic()
        stop(proc)
        import redis

        client = redis.Redis.from_url(s.env["REDIS_URL"])
        stored = [client.zcard(f"terrarium:stats:c:{c.pk}:s") for c in s.containers]
        client.close()
    share = (cpu1 - cpu0) / (t1 - t0) * 100
    print(f"sampler: {CONTAINERS} containers at 1 Hz for {t1 - t0:.0f} s: "
          f"{share:.2f}% of one core (target <= 2%); samples stored per container: "
          f"min {min(stored)}, max {max(stored)}; load average {open('/proc/loadavg').read().split()[0]}")


if __name__ == "__main__":
    main()
