"""Each student's own network, made on first use: their containers join it
(the new-container form's default), reach each other by their dashboard
names, and another student's containers neither resolve nor reach them.
Traffic goes only between these containers and the node's own DNS service."""

import pytest

from dashboard.containers.node import node_runtime
from dashboard.networks.models import Network

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("launched")]

SERVE = "httpd -f -p 80 -h /etc"
SLEEP = "sleep 3600"


def run_in(container, script: str) -> tuple[int | None, str]:
    result = node_runtime().check(container.runtime_name, script.encode(), timeout=10)
    return result.exit_code, result.output.decode(errors="replace")


def test_a_students_containers_join_their_own_network_made_on_first_use(launch_running, client_of, owner, busybox_image):
    assert not Network.objects.exists()
    web = launch_running(client_of(owner), busybox_image, "web", SERVE)
    db = launch_running(client_of(owner), busybox_image, "db", SLEEP)
    personal = Network.objects.get()
    assert (personal.owner, personal.kind) == (owner, "personal")
    assert web.network == db.network == personal
    assert web.ip_address and db.ip_address and web.ip_address != db.ip_address
    inspected = node_runtime().inspect(web.runtime_name)["network"]
    assert inspected["name"] == personal.runtime_name
    assert inspected["ip"] == web.ip_address
    assert "web" in inspected["aliases"]


def test_a_students_two_containers_reach_each_other_by_name(launch_running, client_of, owner, busybox_image):
    client = client_of(owner)
    web = launch_running(client, busybox_image, "web", SERVE)
    db = launch_running(client, busybox_image, "db", SLEEP)
    code, out = run_in(db, "wget -q -O - http://web/passwd")
    assert code == 0 and out.startswith("root:"), out
    code, out = run_in(web, "ping -c 1 db")
    assert code == 0 and db.ip_address in out, out


def test_another_students_container_neither_resolves_nor_reaches_them(launch_running, client_of, owner, other_student,
                                                                      busybox_image):
    web = launch_running(client_of(owner), busybox_image, "web", SERVE)
    prying = launch_running(client_of(other_student), busybox_image, "prying", SLEEP)
    assert prying.network != web.network
    code, out = run_in(prying, "timeout 3 nslookup web; exit $?")
    assert web.ip_address not in out
    code, out = run_in(prying, f"timeout 3 wget -q -O - http://{web.ip_address}/passwd; exit $?")
    assert code != 0 and "root:" not in out


def test_a_container_on_no_network_has_no_address(launch_running, client_of, owner, busybox_image):
    lone = launch_running(client_of(owner), busybox_image, "lone", SLEEP, network="none")
    assert lone.network is None and lone.ip_address == ""
    code, out = run_in(lone, "ls /sys/class/net")
    assert out.split() == ["lo"]
    assert not Network.objects.exists()
