"""Name lookups through a network's DNS service with CONTAINERS busybox
`sleep` containers running on it: the time from a query sent to its
answer received, for names of the network's containers (answered from its
leases, nothing forwarded). Over UDP: first LOOKUPS lookups one after
another from one container's network namespace, then every container
asking at once (LOOKUPS each); over TCP, LOOKUPS on one connection. p50,
p95 and the worst of each. The
clients are this Python run in the containers' namespaces (nsenter), so
a figure is the service's and the network's, not a client's start.

Everything stays on this machine: the network's egress is none and the
service's upstream is the loopback, which no lookup here reaches. Needs
root; removes its containers, network (bridge, nftables tables, the DNS
service), shared forker, cgroup parent and state root, also when stopped
early."""

import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.config import ContainerConfig  # noqa: E402
from runtime.forker import shared as shared_forker  # noqa: E402
from runtime.image import busybox  # noqa: E402
from runtime.image.store import ImageStore  # noqa: E402
from runtime.lifecycle import Runtime  # noqa: E402
from runtime.network import dns, networks  # noqa: E402

CONTAINERS = 30
LOOKUPS = 300
GOAL_P95_MS = 20

# argv: server, udp|tcp, count, start (epoch s: no lookup before), names. Prints the latencies (ms) of count lookups, the names taken in turn, as JSON.
CLIENT = """
import json, socket, struct, sys, time
server, proto, count, start, names = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5:]
if proto == "tcp":
    sock = socket.create_connection((server, 53), timeout=5)
else:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5)
    sock.connect((server, 53))
def reply():
    if proto == "udp":
        return sock.recv(512)
    data = b""
    while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
        data += sock.recv(4096)
    return data[2:]
time.sleep(max(0, start - time.time()))
times = []
for i in range(count):
    labels = b"".join(bytes([len(p)]) + p.encode() for p in names[i % len(names)].split("."))
    query = struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + labels + b"\\0\\0\\1\\0\\1"
    t = time.perf_counter()
    sock.send(query if proto == "udp" else struct.pack("!H", len(query)) + query)
    answer = reply()
    while struct.unpack("!H", answer[:2])[0] != i:
        answer = reply()
    times.append((time.perf_counter() - t) * 1000)
    assert struct.unpack("!H", answer[6:8])[0] == 1, "no address in the answer"
print(json.dumps(times))
"""


def client(pid: int, gateway: str, names: list[str], proto: str = "udp", start: float = 0) -> subprocess.Popen:
    return subprocess.Popen(["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", CLIENT, gateway, proto,
                             str(LOOKUPS), str(start), *names], stdout=subprocess.PIPE, text=True)


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return (f"p50 {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms (goal <= {GOAL_P95_MS}), "
            f"worst {ordered[-1]:.2f} ms, {len(ordered)} lookups")


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    root = tmp / "root"
    parent = f"terrarium-bench-dns-{os.getpid()}"
    # Names not of the network would go here: the loopback, never beyond this machine.
    os.environ["TERRARIUM_DNS_UPSTREAM"] = "127.0.0.1"
    rt = None
    try:
        ImageStore(root).import_archive(busybox.write_tarball(tmp / "busybox.tar"), name="busybox")
        rt = Runtime(root=root, cgroup_parent=parent)
        network = networks.create(str(root), "bench", egress="none")
        states = [rt.run(ContainerConfig(image="busybox", name=f"c{n}", command=["sleep", "3600"], network="bench",
                                         userns="host"))
                  for n in range(CONTAINERS)]
        names = [s.name for s in states]
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print(f"DNS lookups of container names, {CONTAINERS} containers running on one network, load average {load}")

        one = client(states[0].pid, network.gateway, names)
        print(f"  UDP, one client, one lookup after another: {summary(json.loads(one.communicate()[0]))}")

        # Every client started first, asking from the same moment on.
        start = time.time() + 5
        clients = [client(s.pid, network.gateway, names[n:] + names[:n], start=start) for n, s in enumerate(states)]
        together = [t for c in clients for t in json.loads(c.communicate()[0])]
        print(f"  {CONTAINERS} clients at once, one per container: {summary(together)}")

        tcp = client(states[0].pid, network.gateway, names, "tcp")
        print(f"  over TCP, one connection: {summary(json.loads(tcp.communicate()[0]))}")
    finally:
        if root.exists():
            leftover = rt or Runtime(root=root, cgroup_parent=parent)
            for state in leftover.list(all=True):
                leftover.delete(state.id, force=True)
            shared_forker.stop(str(root), parent)
            networks.prune(str(root))
            # The service leaves within a second of the last network.
            deadline = time.monotonic() + 10
            while dns.running(str(root)) and time.monotonic() < deadline:
                time.sleep(0.05)
        for path in glob.glob(f"/sys/fs/cgroup/*/{parent}") + glob.glob(f"/sys/fs/cgroup/{parent}"):
            os.rmdir(path)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
