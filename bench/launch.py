"""Launch-to-exit of `true`: Terrarium from a long-lived process (as the
dashboard's worker has it, with a forker, and without one) versus `crun
run` and `runc run` on the same busybox bundle; the whole CLI process
versus `runc run`; and 100 containers started at once. Medians of RUNS
runs each (for the launch and the CLI, the median of ROUNDS such medians,
taken in turn with the references'), ratios against crun and runc
measured in the same invocation, with the CPU each launch costs every
process on the machine (busy time in /proc/stat over its blocks); and 30
started at once from the worker's Runtime by 30 threads. Runs follow each other back to back, or
with --idle each 50 ms after the last (every tool alike): this VM wakes
slowly from idle, and a process started then pays for it.

The bundle is `runc spec`'s default (pid, net, ipc, uts and mount
namespaces, Docker-like masked and read-only paths) plus a cgroup namespace,
as every Terrarium container has; Terrarium also mounts an overlay, which
the references' plain rootfs does not.

crun refuses this machine's hybrid cgroups without a v1 hugetlb hierarchy;
one is mounted for the run if missing, and unmounted afterwards.

`--disk SIZE` (e.g. `--disk 64m`) measures the disk limit instead: start
to exit of `true` in a container created beforehand (create is not timed:
it formats the limited one's disk) with the limit and without, from the
worker's Runtime and a plain one, in turn with `crun run`; then create
with and without, and the parts a limited start adds (runtime.isolation.layerdisk):
the loop device attached, the ext4 filesystem mounted detached, and the
fd handed to pid 1, which moves it into place.

`--userns` compares a container's first start with a user namespace of its
own (`--userns=auto`: the range claimed, the map written, the image
idmapped, the namespace joined) and with the host's ids, from the worker's
Runtime (whose spares made the namespaces ahead) and a plain one; then the
same for a restart, the range already held (from a plain Runtime: a restart
that cannot use a spare).

`--network` compares a start with `--network bridge` (pid 1 makes the veth
pair, puts the address and route on eth0; the lease is taken at create,
untimed) and with `none`, from the worker's Runtime and a plain one."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import glob
import socket

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.config import ContainerConfig  # noqa: E402
from runtime.resources import parse_size  # noqa: E402
from runtime.forker import shared as shared_forker  # noqa: E402
from runtime.image import busybox
from runtime.image.store import ImageStore  # noqa: E402
from runtime.isolation import layerdisk
from runtime.lifecycle import Runtime  # noqa: E402
from runtime.linux import syscalls
from runtime.network import networks
from runtime.network import ports as network_ports

RUNS = 20
ROUNDS = 5
BURST = 30
# --idle: each run starts SETTLE_S after the last ended, as a dashboard's
# starts come (a student's click, not a loop); default: back to back.
SETTLE_S = 0.05 if "--idle" in sys.argv else 0.0
HUGETLB = "/sys/fs/cgroup/hugetlb"


def median_ms(fn, runs=RUNS) -> float:
    times = []
    for _ in range(runs):
        time.sleep(SETTLE_S)
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def busy_ms() -> float:
    """CPU time every process on the machine has used since boot (all but idle and iowait), in ms."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) * 1000 / os.sysconf("SC_CLK_TCK")


def make_bundle(tmp: Path, tar: Path) -> Path:
    bundle = tmp / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    with tarfile.open(tar) as t:
        t.extractall(bundle / "rootfs")
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"].update(terminal=False, args=["true"])
    # Our containers also get a cgroup namespace; the reference does the same work.
    spec["linux"]["namespaces"].append({"type": "cgroup"})
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def oci_run(tool: str, bundle: Path, n: int) -> None:
    subprocess.run([tool, "run", "--bundle", str(bundle), f"bench-{os.getpid()}-{n}"], check=True,
                   stdout=subprocess.DEVNULL)


def remove_parent(parent: str) -> None:
    """The drivers keep the (now empty) parent cgroup; a benchmark leaves none."""
    for path in glob.glob(f"/sys/fs/cgroup/*/{parent}") + glob.glob(f"/sys/fs/cgroup/{parent}"):
        os.rmdir(path)


def disk_option() -> int | None:
    if "--disk" not in sys.argv:
        return None
    return parse_size(sys.argv[sys.argv.index("--disk") + 1])


def start_to_exit_ms(runtime, disk_bytes=None, userns="host", restart=False, network="none", ports=None) -> float:
    """Median of RUNS starts to exit of `true` in containers created beforehand,
    untimed; with the host's ids unless told, as the disk figures were taken.
    With restart, each container has run once before, untimed: its range is held.
    With ports (an iterator of host ports), each publishes 127.0.0.1:<next port>:80,
    a new port each run (the last run's proxy may still hold its own as it leaves)."""
    times = []
    for _ in range(RUNS):
        published = [network_ports.parse(f"127.0.0.1:{next(ports)}:80")] if ports else []
        state = runtime.create(ContainerConfig(image="busybox", command=["true"], disk_bytes=disk_bytes, userns=userns,
                                               network=network, ports=published))
        if restart:
            runtime.start(state.id)
            runtime.wait(state.id)
        time.sleep(SETTLE_S)
        t = time.perf_counter()
        runtime.start(state.id)
        runtime.wait(state.id)
        times.append(time.perf_counter() - t)
        runtime.delete(state.id)
    return statistics.median(times) * 1000


def disk_parts_ms(image: str) -> dict[str, float]:
    """Medians of the parts a limited start adds, each on its own."""
    parts = {"loop device attached": [], "ext4 mounted detached (fsmount)": [], "fd sent and moved into place": []}
    target = os.path.join(os.path.dirname(image), "target")
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fd = os.open(image, os.O_RDWR | os.O_CLOEXEC)
        device, loop_fd = layerdisk.attach_loop(fd)
        os.close(fd)
        t1 = time.perf_counter()
        fs_fd = syscalls.fsopen("ext4")
        syscalls.fsconfig(fs_fd, syscalls.FSCONFIG_SET_STRING, "source", device)
        for flag in layerdisk.MOUNT_FLAGS:
            syscalls.fsconfig(fs_fd, syscalls.FSCONFIG_SET_FLAG, flag)
        syscalls.fsconfig(fs_fd, syscalls.FSCONFIG_CMD_CREATE)
        mount_fd = syscalls.fsmount(fs_fd)
        os.close(fs_fd)
        os.close(loop_fd)
        t2 = time.perf_counter()
        # What pid 1 adds: the fd with the plan, then, in its private mount namespace, a move_mount.
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        socket.send_fds(ours, [b"plan"], [mount_fd])
        _, fds, _, _ = socket.recv_fds(theirs, 64, 1)
        sent = time.perf_counter() - t2
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            syscalls.unshare(syscalls.CLONE_NEWNS)
            syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
            t = time.perf_counter()
            layerdisk.attach(fds[0], target)
            os.write(write_end, str(time.perf_counter() - t).encode())
            os._exit(0)
        os.close(write_end)
        moved = float(os.read(read_end, 64))
        os.close(read_end)
        os.waitpid(pid, 0)
        t3 = t2 + sent + moved
        for fd in (mount_fd, *fds):
            os.close(fd)
        ours.close()
        theirs.close()
        os.rmdir(target)
        for key, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2)):
            parts[key].append(value)
    return {key: statistics.median(values) * 1000 for key, values in parts.items()}


def side_by_side(rt, worker, bundle, counter, variants: dict[str, dict]) -> dict:
    """Blocks for in_turn: each variant's start_to_exit_ms options from the worker's
    Runtime and a plain one (keys "worker, <variant>", "plain, <variant>"), and crun."""
    blocks = {f"{who}, {name}": (lambda runtime=runtime, options=options: start_to_exit_ms(runtime, **options))
              for name, options in variants.items() for who, runtime in (("worker", worker), ("plain", rt))}
    blocks["crun"] = lambda: median_ms(lambda: oci_run("crun", bundle, next(counter)))
    return blocks


def in_turn(blocks) -> tuple[dict[str, float], str]:
    """Each block's median over ROUNDS rounds, the blocks taken in turn in each, and the regime's name."""
    times = {key: [] for key in blocks}
    for _ in range(ROUNDS):
        for key, fn in blocks.items():
            times[key].append(fn())
    return ({key: statistics.median(values) for key, values in times.items()},
            "each after 50 ms idle" if SETTLE_S else "back to back")


def disk_main(rt, worker, bundle, counter, disk_bytes: int, tmp: Path) -> None:
    m, regime = in_turn(side_by_side(rt, worker, bundle, counter, {"limit": {"disk_bytes": disk_bytes}, "none": {}}))
    print(f"start-to-exit of true with a {disk_bytes >> 20} MiB disk limit, {regime}, median of {ROUNDS} rounds of "
          f"{RUNS}: worker {m['worker, limit']:.2f} ms vs {m['worker, none']:.2f} ms without "
          f"(+{m['worker, limit'] - m['worker, none']:.2f} ms); plain Runtime {m['plain, limit']:.2f} ms vs "
          f"{m['plain, none']:.2f} ms (+{m['plain, limit'] - m['plain, none']:.2f} ms); crun run (create, start, delete) "
          f"{m['crun']:.2f} ms")

    def create_ms(disk):
        made = []

        def one():
            made.append(rt.create(ContainerConfig(image="busybox", command=["true"], disk_bytes=disk)).id)
        result = median_ms(one)
        for cid in made:
            rt.delete(cid)
        return result
    print(f"  create: {create_ms(disk_bytes):.1f} ms with the limit (mkfs.ext4 of the sparse image) vs "
          f"{create_ms(None):.1f} ms without")
    probe = tmp / "probe"
    probe.mkdir()
    image = layerdisk.prepare(str(probe), disk_bytes)
    parts = disk_parts_ms(image)
    print("  parts of a limited start, each alone: " + ", ".join(f"{k} {v:.3f} ms" for k, v in parts.items()))


def userns_main(rt, worker, bundle, counter) -> None:
    """Start to exit of `true` with a user namespace of its own and with the
    host's ids: the first start of each container (it claims the range), and
    a restart (the range held), from the worker and from a plain Runtime, whose
    shim is forked at the start: no spare made the namespaces ahead."""
    variants = {"auto": {"userns": "auto"}, "host": {}, "auto, restart": {"userns": "auto", "restart": True},
                "host, restart": {"restart": True}}
    m, regime = in_turn(side_by_side(rt, worker, bundle, counter, variants))
    print(f"start-to-exit of true, --userns=auto vs host, {regime}, median of {ROUNDS} rounds of {RUNS}; "
          f"crun run (create, start, delete) {m['crun']:.2f} ms")
    for who, what in (("worker", "worker (a spare ahead)"), ("plain", "plain Runtime (no spare)")):
        for case, suffix in (("first start", ""), ("restart", ", restart")):
            auto, host = m[f"{who}, auto{suffix}"], m[f"{who}, host{suffix}"]
            print(f"  {what:26} {case:11}: auto {auto:6.2f} ms, host {host:6.2f} ms, {auto - host:+.2f} ms")


def network_main(rt, worker, bundle, counter) -> None:
    """Start to exit of `true` on the default network and with `lo` only, and with one -p."""
    blocks = side_by_side(rt, worker, bundle, counter, {"bridge": {"network": "bridge"}, "none": {}})
    ports = iter(range(20000, 30000))
    blocks.update({f"{who}, -p": (lambda runtime=runtime: start_to_exit_ms(runtime, network="bridge", ports=ports))
                   for who, runtime in (("worker", worker), ("plain", rt))})
    m, regime = in_turn(blocks)
    print(f"start-to-exit of true, --network bridge vs none, {regime}, median of {ROUNDS} rounds of {RUNS}: "
          f"worker {m['worker, bridge']:.2f} vs {m['worker, none']:.2f} ms "
          f"({m['worker, bridge'] - m['worker, none']:+.2f} ms, goal <= +2 ms); plain Runtime "
          f"{m['plain, bridge']:.2f} vs {m['plain, none']:.2f} ms ({m['plain, bridge'] - m['plain, none']:+.2f} ms); "
          f"crun run (create, start, delete) {m['crun']:.2f} ms")
    print(f"  with one -p 127.0.0.1:PORT:80 on bridge: worker {m['worker, -p']:.2f} ms "
          f"({m['worker, -p'] - m['worker, bridge']:+.2f} ms; {m['worker, -p'] - m['worker, none']:+.2f} ms vs none, "
          f"goal <= +5 ms), plain {m['plain, -p']:.2f} ms "
          f"({m['plain, -p'] - m['plain, bridge']:+.2f} ms)")


def main() -> None:
    mounted_hugetlb = not os.path.ismount(HUGETLB)
    if mounted_hugetlb:
        os.makedirs(HUGETLB, exist_ok=True)
        subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", HUGETLB], check=True)
    tmp = Path(tempfile.mkdtemp())
    root = tmp / "root"
    parent = f"terrarium-bench-{os.getpid()}"
    worker = None
    try:
        tar = busybox.write_tarball(tmp / "busybox.tar")
        ImageStore(root).import_archive(tar, name="busybox")
        bundle = make_bundle(tmp, tar)
        rt = Runtime(root=root, cgroup_parent=parent)
        worker = Runtime(root=root, cgroup_parent=parent, forker=True)
        cfg = lambda: ContainerConfig(image="busybox", command=["true"])  # noqa: E731

        def launch(runtime):
            state = runtime.run(cfg())
            runtime.wait(state.id)
            runtime.delete(state.id)

        launch(rt)
        launch(worker)
        counter = iter(range(10**6))
        disk_bytes = disk_option()
        if disk_bytes is not None:
            disk_main(rt, worker, bundle, counter, disk_bytes, tmp)
            return
        if "--userns" in sys.argv:
            userns_main(rt, worker, bundle, counter)
            return
        if "--network" in sys.argv:
            network_main(rt, worker, bundle, counter)
            return
        # Each back to back, RUNS times in a row (a run's leftovers, such as the forker
        # forking the next shim, are its own cost); the four blocks taken ROUNDS times
        # in turn, so that a noisy moment of this shared machine hits every one alike.
        times = {"worker": [], "plain": [], "crun": [], "runc": []}
        cpu = dict.fromkeys(times, 0.0)
        blocks = {"worker": lambda: launch(worker), "plain": lambda: launch(rt),
                  "crun": lambda: oci_run("crun", bundle, next(counter)),
                  "runc": lambda: oci_run("runc", bundle, next(counter))}
        for _ in range(ROUNDS):
            for key, fn in blocks.items():
                before = busy_ms()
                times[key].append(median_ms(fn))
                cpu[key] += busy_ms() - before
        ours, plain, crun, runc = (statistics.median(times[k]) for k in ("worker", "plain", "crun", "runc"))
        regime = "each after 50 ms idle" if SETTLE_S else "back to back"
        print(f"launch-to-exit of true, {regime}, median of {ROUNDS} rounds of {RUNS}: terrarium as the dashboard's worker runs it "
              f"(Runtime(forker=True)) {ours:.1f} ms, crun {crun:.1f} ms, runc {runc:.1f} ms; "
              f"ratio vs crun {ours / crun:.2f}, vs runc {ours / runc:.2f}")
        print(f"  the same from a plain in-process Runtime(), no forker: {plain:.1f} ms; "
              f"ratio vs crun {plain / crun:.2f}, vs runc {plain / runc:.2f}")
        per_launch = {k: v / (ROUNDS * RUNS) for k, v in cpu.items()}
        print(f"  CPU per launch, every process on the machine (busy time in /proc/stat): terrarium (worker) "
              f"{per_launch['worker']:.1f} ms, plain {per_launch['plain']:.1f} ms, crun {per_launch['crun']:.1f} ms, "
              f"runc {per_launch['runc']:.1f} ms")

        env = dict(os.environ, TERRARIUM_ROOT=str(root), TERRARIUM_CGROUP_PARENT=parent)
        cli_runs, runc_runs = [], []
        for _ in range(ROUNDS):
            cli_runs.append(median_ms(lambda: subprocess.run(
                [sys.executable, "-m", "runtime", "run", "--rm", "busybox", "true"],
                check=True, env=env, cwd=Path(__file__).resolve().parent.parent)))
            runc_runs.append(median_ms(lambda: oci_run("runc", bundle, next(counter))))
        cli, runc = statistics.median(cli_runs), statistics.median(runc_runs)
        print(f"whole CLI process `run --rm busybox true`, median of {ROUNDS} rounds of {RUNS}: {cli:.1f} ms "
              f"vs runc {runc:.1f} ms; ratio {cli / runc:.2f}")

        # A class clicking start at once, through the worker's Runtime: its threads
        # share one forker, which only hands each its spare.
        bursts = []
        for _ in range(ROUNDS):
            t = time.perf_counter()
            with ThreadPoolExecutor(max_workers=BURST) as pool:
                states = list(pool.map(lambda _: worker.run(ContainerConfig(image="busybox", command=["sleep", "60"])),
                                       range(BURST)))
            bursts.append(time.perf_counter() - t)
            for s in states:
                worker.delete(s.id, force=True)
        print(f"{BURST} containers started at once from the worker's Runtime(forker=True), {BURST} threads: "
              f"all running after {statistics.median(bursts) * 1000:.0f} ms (median of {ROUNDS})")
        worker.close()

        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=100) as pool:
            states = list(pool.map(lambda _: rt.run(cfg()), range(100)))
        started = time.perf_counter() - t
        for s in states:
            rt.wait(s.id)
        done = time.perf_counter() - t
        for s in states:
            rt.delete(s.id)
        print(f"100 containers started at once from one process: all running after {started * 1000:.0f} ms, "
              f"all exited after {done * 1000:.0f} ms")
    finally:
        # A benchmark leaves nothing, also when it stops early (a closed pipe, Ctrl-C):
        # no container, not the worker's forker and its spares (their cgroups are
        # under the parent), not the node's shared forker the CLI runs started
        # for this root, nor the cgroup parent.
        if root.exists():
            leftover = Runtime(root=root, cgroup_parent=parent)
            for state in leftover.list(all=True):
                leftover.delete(state.id, force=True)
            if worker is not None:
                worker.close()
            shared_forker.stop(str(root), parent)
            # The default network a --network run made: its bridge and policy tables go with it.
            networks.prune(str(root))
        remove_parent(parent)
        shutil.rmtree(tmp, ignore_errors=True)
        if mounted_hugetlb:
            subprocess.run(["umount", HUGETLB], check=True)
            os.rmdir(HUGETLB)


if __name__ == "__main__":
    main()
