"""Each student's own network, made on first use: their containers join it
(the new-container form's default), reach each other by their dashboard
names, and another student's containers neither resolve nor reach them.
Traffic goes only between these containers and the node's own DNS service."""

import pytest
from django.urls import reverse

from dashboard.containers.models import Container
from dashboard.containers.node import node_runtime
from dashboard.networks.models import Network

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SERVE = "httpd -f -p 80 -h /etc"
SLEEP = "sleep 3600"


def launch(client, image, name, command, **fields):
    data = {"image": image.id, "name": name, "command": command, "memory_limit": "64m", **fields}
    response = client.post(reverse("containers:new"), data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    return Container.objects.exclude(status="deleted").get(owner__username=client.session_user, name=name)


def running(wait_until, container) -> Container:
    wait_until(lambda: Container.objects.get(id=container.id).status in ("running", "failed"))
    container.refresh_from_db()
    assert container.status == "running", container.status_detail
    return container


def run_in(container, script: str) -> tuple[int | None, str]:
    result = node_runtime().check(container.runtime_name, script.encode(), timeout=10)
    return result.exit_code, result.output.decode(errors="replace")


@pytest.fixture
def client_of(client_for, worker):
    """client_of(user) -> a logged-in client; the containers launched are deleted at the end."""

    def make(user):
        client = client_for(user)
        client.session_user = user.username
        return client

    yield make
    for state in node_runtime().list(all=True):
        node_runtime().delete(state.id, force=True)


def test_a_students_containers_join_their_own_network_made_on_first_use(client_of, owner, busybox_image, worker,
                                                                        wait_until):
    assert not Network.objects.exists()
    web = running(wait_until, launch(client_of(owner), busybox_image, "web", SERVE))
    db = running(wait_until, launch(client_of(owner), busybox_image, "db", SLEEP))
    personal = Network.objects.get()
    assert (personal.owner, personal.kind) == (owner, "personal")
    assert web.network == db.network == personal
    assert web.ip_address and db.ip_address and web.ip_address != db.ip_address
    inspected = node_runtime().inspect(web.runtime_name)["network"]
    assert inspected["name"] == personal.runtime_name
    assert inspected["ip"] == web.ip_address
    assert "web" in inspected["aliases"]


def test_a_students_two_containers_reach_each_other_by_name(client_of, owner, busybox_image, worker, wait_until):
    client = client_of(owner)
    web = running(wait_until, launch(client, busybox_image, "web", SERVE))
    db = running(wait_until, launch(client, busybox_image, "db", SLEEP))
    code, out = run_in(db, "wget -q -O - http://web/passwd")
    assert code == 0 and out.startswith("root:"), out
    code, out = run_in(web, "ping -c 1 db")
    assert code == 0 and db.ip_address in out, out


def test_another_students_container_neither_resolves_nor_reaches_them(client_of, owner, other_student,
                                                                      busybox_image, worker, wait_until):
    web = running(wait_until, launch(client_of(owner), busybox_image, "web", SERVE))
    prying = running(wait_until, launch(client_of(other_student), busybox_image, "prying", SLEEP))
    assert prying.network != web.network
    code, out = run_in(prying, "timeout 3 nslookup web; exit $?")
    assert web.ip_address not in out
    code, out = run_in(prying, f"timeout 3 wget -q -O - http://{web.ip_address}/passwd; exit $?")
    assert code != 0 and "root:" not in out


def test_a_container_on_no_network_has_no_address(client_of, owner, busybox_image, worker, wait_until):
    lone = running(wait_until, launch(client_of(owner), busybox_image, "lone", SLEEP, network="none"))
    assert lone.network is None and lone.ip_address == ""
    code, out = run_in(lone, "ls /sys/class/net")
    assert out.split() == ["lo"]
    assert not Network.objects.exists()
