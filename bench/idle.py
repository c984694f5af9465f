"""Idle cost of a node: BENCH_CONTAINERS (100) running busybox `sleep`
containers, nobody logged in, no browser, for BENCH_SECONDS (60): each
Terrarium process's share of one core and the total. The processes are
the node agent (heartbeat, sampler, PTY owner), the web server, the
runtime worker, Redis, the forker that launched the containers and the
containers' shims (summed; the containers' own processes are not ours).
Target: the total at most 3 % of one core.

Needs root. Everything it makes (a private Redis, database, state root,
cgroup parent, the containers and the processes it starts) is removed at
the end, also when it fails or gets SIGTERM/SIGHUP/SIGINT
(bench/sampler.py's stack)."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sampler import CONTAINERS, NODE, REPO, SECONDS, stack, stop  # noqa: E402

# The agent learns every container at its first ticks; the worker and the
# web server load Django: none of that is idle cost.
WARMUP_SECONDS = 10
TARGET_PERCENT = 3.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], env: dict, cleanup) -> psutil.Process:
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cleanup.callback(stop, proc)
    return psutil.Process(proc.pid)


def daemons(env: dict, cleanup) -> dict[str, psutil.Process]:
    python = sys.executable
    env = {**env, "LOG_LEVEL": "WARNING"}
    return {
        "node agent": start([python, "manage.py", "node_agent", "--node", NODE], env, cleanup),
        "web server": start([python, "-m", "dashboard.webserver", "-b", "127.0.0.1", "-p", str(free_port())],
                            env, cleanup),
        "runtime worker": start(
            [python, "-m", "celery", "-A", "dashboard", "worker", "-Q", f"node.{NODE}", "--pool", "threads",
             "--concurrency", "4", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
             "--without-heartbeat"], env, cleanup),
    }


def groups(started: dict[str, psutil.Process], shim_pids: set[int]) -> dict[str, list[psutil.Process]]:
    """Terrarium's processes by role: each daemon with its own helpers
    (forkers), the launch's forker and Redis (this process's children), the
    shims; never a container's processes (the shims' descendants)."""
    shims = [psutil.Process(pid) for pid in shim_pids]
    theirs = {p.pid for shim in shims for p in shim.children(recursive=True)} | shim_pids
    out = {}
    for name, proc in started.items():
        out[name] = [proc, *(p for p in proc.children(recursive=True) if p.pid not in theirs)]
    mine = [p for p in psutil.Process().children(recursive=True)
            if p.pid not in theirs and all(p.pid not in {q.pid for q in g} for g in out.values())]
    out["redis"] = [p for p in mine if p.name() == "redis-server"]
    out["launch forker"] = [p for p in mine if p.name() != "redis-server"]
    out[f"shims ({len(shims)})"] = shims
    return out


def cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[p.pid] = t.user + t.system
    return seconds


def main() -> None:
    with stack(CONTAINERS) as s:
        from runtime.lifecycle import Runtime

        started = daemons(s.env, s.cleanup)
        time.sleep(WARMUP_SECONDS)
        states = Runtime(root=s.env["TERRARIUM_ROOT"]).list()
        by_role = groups(started, {st.shim_pid for st in states if st.shim_pid})
        before = {role: cpu_seconds(procs) for role, procs in by_role.items()}
        t0 = time.monotonic()
        time.sleep(SECONDS)
        after = {role: cpu_seconds(procs) for role, procs in by_role.items()}
        elapsed = time.monotonic() - t0
        dead = [name for name, proc in started.items() if not proc.is_running()]
        running = len(Runtime(root=s.env["TERRARIUM_ROOT"]).list())
    if dead:
        raise SystemExit(f"died during the run: {', '.join(dead)}")
    shares = {
        role: sum(after[role][pid] - before[role][pid] for pid in after[role] if pid in before[role]) / elapsed * 100
        for role in by_role
    }
    total = sum(shares.values())
    load = open("/proc/loadavg").read().split()[0]
    print(f"idle node: {running} running containers, no browser, {elapsed:.0f} s, load average {load}")
    for role, share in shares.items():
        print(f"  {role:16s} {share:6.2f} % of one core")
    print(f"  {'total':16s} {total:6.2f} %   (target <= {TARGET_PERCENT:.0f} %)")


if __name__ == "__main__":
    main()
