"""Published ports after the node's network service dies (`kill -9`): the
ports go with it; `network reconcile`, or the next start on a network,
starts it again and it publishes the ports of the containers still running
once more. Connections it carried are lost (closed or reset); new ones
reach the container."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from network_testing import server, wait_listening
from runtime.config import ContainerConfig
from runtime.network import dns, networks, ports


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hostname_at(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=10) as reply:
        return reply.read()


def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def kill_the_service(root: str, port: int) -> None:
    """SIGKILL, and back once its port is closed: its threads leave a moment after its main one."""
    with open(dns.pidfile(root)) as f:
        os.kill(int(f.read().split()[0]), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while dns.running(root) or not refused(port):
        assert time.monotonic() < deadline, "the service outlived SIGKILL"
        time.sleep(0.02)


def test_reconcile_publishes_the_ports_of_running_containers_again(rt, net_root):
    networks.create(net_root, "lab")
    port = free_port()
    web = server(rt, "lab", "web", ports=[ports.parse(f"127.0.0.1:{port}:80")])
    wait_listening(web.pid, 80)
    assert hostname_at(port) == b"web\n"
    held = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        kill_the_service(net_root, port)
        try:
            assert held.recv(1) == b""
        except ConnectionResetError:
            pass

        done = subprocess.run([sys.executable, "-m", "runtime", "network", "reconcile"], capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr
        assert hostname_at(port) == b"web\n"
    finally:
        held.close()


def test_the_next_start_on_a_network_publishes_them_again(rt, net_root):
    networks.create(net_root, "lab")
    port = free_port()
    web = server(rt, "lab", "web", ports=[ports.parse(f"127.0.0.1:{port}:80")])
    wait_listening(web.pid, 80)
    kill_the_service(net_root, port)
    rt.run(ContainerConfig(image="busybox", command=["sleep", "60"], network="lab"))
    assert hostname_at(port) == b"web\n"


def test_a_port_taken_meanwhile_stays_with_its_new_holder_and_the_others_come_back(rt, net_root):
    networks.create(net_root, "lab")
    taken, kept = free_port(), free_port()
    web = server(rt, "lab", "web", ports=[ports.parse(f"127.0.0.1:{taken}:80")])
    db = server(rt, "lab", "db", ports=[ports.parse(f"127.0.0.1:{kept}:80")])
    for state in (web, db):
        wait_listening(state.pid, 80)
    kill_the_service(net_root, taken)
    with socket.create_server(("127.0.0.1", taken)) as squatter:
        networks.reconcile(net_root)
        with socket.create_connection(("127.0.0.1", taken), timeout=10):
            conn, _ = squatter.accept()
            conn.close()
    assert hostname_at(kept) == b"db\n"
