"""Published ports (`-p`): the host reaches a container's port, on
127.0.0.1 too; a port already taken fails the start and leaves nothing."""

import socket
import time
import urllib.request

import pytest

from network_testing import server
from runtime.config import ContainerConfig
from runtime.errors import Conflict, InvalidArgument
from runtime.network import networks, ports
from runtime.network.store import NetworkStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_port_published_on_127_0_0_1_reaches_the_container(rt, net_root):
    networks.create(net_root, "lab")
    port = free_port()
    web = server(rt, "lab", "web", ports=[ports.parse(f"127.0.0.1:{port}:80")])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=10) as reply:
        assert reply.read() == b"web\n"
    assert rt.inspect(web.id)["network"]["ports"] == [
        {"host_ip": "127.0.0.1", "host_port": port, "container_port": 80, "proto": "tcp"}]


def test_the_port_is_given_back_when_the_container_stops(rt, net_root):
    networks.create(net_root, "lab")
    port = free_port()
    web = server(rt, "lab", "web", ports=[ports.parse(f"127.0.0.1:{port}:80")])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=10) as reply:
        assert reply.read() == b"web\n"
    rt.stop(web.id, timeout=1)
    deadline = 50
    while deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                break
        deadline -= 1
        time.sleep(0.1)
    assert deadline, "the port still answers after the container stopped"


def test_a_port_already_taken_fails_the_start_and_leaves_nothing(rt, net_root):
    networks.create(net_root, "lab")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(Conflict, match=f"cannot publish 127.0.0.1:{port}/tcp"):
            rt.run(ContainerConfig(image="busybox", command=["true"], network="lab",
                                   ports=[ports.parse(f"127.0.0.1:{port}:80")]))
    assert rt.list(all=True) == []
    assert NetworkStore(net_root).leases("lab") == {}


def test_bad_port_specs_are_refused(rt, net_root):
    for spec in ("80", "a:b", "1.2.3:80:80", "80:80/sctp", "0:80", "70000:80"):
        with pytest.raises(InvalidArgument, match="invalid port"):
            ports.parse(spec)


def test_a_container_that_exits_at_once_still_starts_and_gives_its_port_back(rt, net_root):
    networks.create(net_root, "lab")
    port = free_port()
    for _ in range(3):
        state = rt.run(ContainerConfig(image="busybox", command=["true"], network="lab",
                                       ports=[ports.parse(f"127.0.0.1:{port}:80")]))
        assert rt.wait(state.id).exit_code == 0
        rt.delete(state.id)
