"""A network's egress, changed on the dashboard, reaches the runtime of every
node with containers on it (the node reads the row again), and its
containers lose the outside: a namespace of this test on a TEST-NET-3
address (RFC 5737, never routed) plays the outside."""

import os
import subprocess
import time

import pytest
from django.conf import settings
from django.urls import reverse

from dashboard.containers.models import Container
from dashboard.containers.node import node_runtime
from dashboard.networks.models import Network
from runtime import networks

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OUTSIDE_HOST, OUTSIDE = "203.0.113.1", "203.0.113.10"


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def outside(tmp_path):
    """busybox httpd on port 80 of OUTSIDE, in a namespace joined to the host by a veth."""
    tag = f"nd{os.getpid() % 10000}"
    name, link = f"tt-{tag}", f"tth-{tag}"
    ip("netns", "add", name)
    server = None
    try:
        ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", name)
        ip("addr", "add", f"{OUTSIDE_HOST}/24", "dev", link)
        ip("link", "set", link, "up")
        for args in (("link", "set", "lo", "up"), ("link", "set", "eth0", "up"),
                     ("addr", "add", f"{OUTSIDE}/24", "dev", "eth0"), ("route", "add", "default", "via", OUTSIDE_HOST)):
            ip("-n", name, *args)
        (tmp_path / "index.html").write_text("outside\n")
        server = subprocess.Popen(["ip", "netns", "exec", name, "/bin/busybox", "httpd", "-f", "-p", "80", "-h",
                                   str(tmp_path)])
        deadline = time.monotonic() + 10
        while ":0050 " not in subprocess.run(["ip", "netns", "exec", name, "cat", "/proc/net/tcp", "/proc/net/tcp6"],
                                             capture_output=True, text=True).stdout:
            assert time.monotonic() < deadline, "httpd did not start"
            time.sleep(0.02)
        yield f"http://{OUTSIDE}/"
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", link], capture_output=True)
        ip("netns", "del", name)
    assert name not in os.listdir("/run/netns"), "network namespace left"


@pytest.fixture
def launched(worker):
    yield
    for state in node_runtime().list(all=True):
        node_runtime().delete(state.id, force=True)


def reaches(container, url: str) -> bool:
    script = f"timeout 3 wget -q -O - {url}; exit $?".encode()
    result = node_runtime().check(container.runtime_name, script, timeout=10)
    return result.exit_code == 0 and result.output == b"outside\n"


def runtime_egress(network: Network) -> str:
    return networks.inspect(str(settings.TERRARIUM_ROOT), network.runtime_name)["egress"]


def test_egress_none_reaches_the_runtime_and_cuts_the_outside(client_for, teacher, busybox_image, launched, outside,
                                                              wait_until):
    client = client_for(teacher)
    assert client.post(reverse("networks:list"), {"name": "group", "egress": "internet"}).status_code == 302
    network = Network.objects.get()
    response = client.post(reverse("containers:new"), {"image": busybox_image.id, "name": "web", "command": "sleep 3600",
                                                       "memory_limit": "64m", "network": network.pk})
    assert response.status_code == 302, response.content.decode()[-2000:]
    container = Container.objects.get(name="web")
    wait_until(lambda: Container.objects.get(id=container.id).status == "running")
    assert runtime_egress(network) == "internet"
    assert reaches(container, outside)

    assert client.post(reverse("networks:egress", args=[network.pk]), {"egress": "none"}).status_code == 302
    wait_until(lambda: runtime_egress(network) == "none")
    assert not reaches(container, outside)


def test_a_container_starts_on_a_network_with_the_recorded_egress(client_for, teacher, busybox_image, launched,
                                                                  wait_until):
    network = Network.objects.create(owner=teacher, name="group", kind="shared", egress="none")
    response = client_for(teacher).post(reverse("containers:new"), {
        "image": busybox_image.id, "name": "web", "command": "sleep 3600", "network": network.pk})
    assert response.status_code == 302, response.content.decode()[-2000:]
    wait_until(lambda: Container.objects.get(name="web").status == "running")
    assert runtime_egress(network) == "none"
