"""A lab's network: each student's instance on a network of its own by default,
all of them on one network when the lab file says `network: shared`; the
lab's egress comes from its file and the teacher changes it on the lab page
("Network egress", Save) for every network of the lab at once."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dashboard.containers.models import Container
from dashboard.containers.node import node_runtime
from dashboard.images.models import Image
from dashboard.labs.labfile import LabInvalid, parse_lab
from dashboard.labs.models import Lab, LabInstance
from dashboard.networks.models import Network
from runtime import networks

LAB = """\
title: Web and database
image: busybox
{extra}steps:
  - {{id: up, title: Up, text: x, check: {{run: 'true'}}}}
"""


def lab_yaml(extra: str = "") -> bytes:
    return LAB.format(extra=extra).encode()


def upload(client, data: bytes):
    return client.post(reverse("labs:import"), {"lab_file": SimpleUploadedFile("lab.yaml", data)})


def imported(client_for, teacher, extra="") -> Lab:
    assert upload(client_for(teacher), lab_yaml(extra)).status_code == 302
    lab = Lab.objects.get()
    Lab.objects.filter(pk=lab.pk).update(assigned_to_all=True)
    lab.refresh_from_db()
    return lab


def start(client, lab) -> LabInstance:
    assert client.post(reverse("labs:start", args=[lab.pk])).status_code == 302
    return LabInstance.objects.select_related("container__network").get(lab=lab, student__username=client.user.username)


def test_a_lab_file_says_network_and_egress():
    definition = parse_lab({"lab.yaml": lab_yaml("network: shared\negress: none\n")}).definition
    assert (definition["network"], definition["egress"]) == ("shared", "none")
    definition = parse_lab({"lab.yaml": lab_yaml()}).definition
    assert (definition["network"], definition["egress"]) == ("per-student", "internet")


@pytest.mark.parametrize("extra, message", [
    ("network: everyone\n", "network must be one of per-student, shared."),
    ("egress: [none]\n", "egress must be one of internet, open, none."),
    ("egress: closed\n", "egress must be one of internet, open, none."),
])
def test_a_bad_network_or_egress_is_reported_with_its_line(extra, message):
    with pytest.raises(LabInvalid) as refused:
        parse_lab({"lab.yaml": lab_yaml(extra)})
    assert [(e.line, e.message) for e in refused.value.errors] == [(3, message)]


@pytest.fixture
def image(owner, node):
    return Image.objects.create(name="busybox", owner=owner, node=node, status="ready", store_name="busybox-1",
                                visibility="shared")


@pytest.mark.django_db
def test_each_students_instance_gets_a_network_of_its_own(client_for, client_of, teacher, owner, other_student, image):
    lab = imported(client_for, teacher, "egress: none\n")
    assert (lab.network, lab.egress) == ("per-student", "none")
    mine, theirs = start(client_of(owner), lab), start(client_of(other_student), lab)
    assert mine.container.network != theirs.container.network
    for instance in (mine, theirs):
        network = instance.container.network
        assert (network.kind, network.owner, network.lab, network.egress) == ("lab", instance.student, lab, "none")


@pytest.mark.django_db
def test_a_shared_lab_puts_every_instance_on_one_network(client_for, client_of, teacher, owner, other_student, image):
    lab = imported(client_for, teacher, "network: shared\n")
    mine, theirs = start(client_of(owner), lab), start(client_of(other_student), lab)
    network = mine.container.network
    assert theirs.container.network == network
    assert (network.kind, network.owner, network.lab, network.egress) == ("lab", teacher, lab, "internet")
    # A lab's network is for its instances, not one to choose in the new-container form.
    page = client_of(owner).get(reverse("containers:new")).content.decode()
    assert f'value="{network.pk}"' not in page.split('name="network"', 1)[1].split("</select>", 1)[0]


@pytest.mark.django_db
def test_the_teacher_sets_the_egress_of_every_network_of_the_lab(client_for, client_of, teacher, owner,
                                                                 other_student, image):
    lab = imported(client_for, teacher)
    start(client_of(owner), lab), start(client_of(other_student), lab)
    page = client_for(teacher).get(reverse("labs:detail", args=[lab.pk])).content.decode()
    assert "Network egress <select" in page and ">Save</button>" in page
    assert client_for(teacher).post(reverse("labs:egress", args=[lab.pk]), {"egress": "none"}).status_code == 302
    lab.refresh_from_db()
    assert lab.egress == "none"
    assert list(Network.objects.filter(lab=lab).values_list("egress", flat=True)) == ["none", "none"]


@pytest.mark.django_db
def test_students_and_other_teachers_may_not_set_a_labs_egress(client_for, teacher, second_teacher, owner, image):
    lab = imported(client_for, teacher)
    for user in (owner, second_teacher):
        assert client_for(user).post(reverse("labs:egress", args=[lab.pk]), {"egress": "none"}).status_code == 403
    # A lab they cannot see at all is a 404.
    Lab.objects.filter(pk=lab.pk).update(assigned_to_all=False)
    for user in (owner, second_teacher):
        assert client_for(user).post(reverse("labs:egress", args=[lab.pk]), {"egress": "none"}).status_code == 404
    assert client_for(teacher).post(reverse("labs:egress", args=[lab.pk]), {"egress": "closed"}).status_code == 302
    lab.refresh_from_db()
    assert lab.egress == "internet"


def running(wait_until, instance) -> Container:
    wait_until(lambda: Container.objects.get(id=instance.container_id).status in ("running", "failed"))
    container = Container.objects.get(id=instance.container_id)
    assert container.status == "running", container.status_detail
    return container


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_shared_labs_instances_reach_each_other_until_the_teacher_says_none(
        client_for, client_of, teacher, owner, other_student, busybox_image, launched, wait_until):
    lab = imported(client_for, teacher, "network: shared\n")
    mine = running(wait_until, start(client_of(owner), lab))
    theirs = running(wait_until, start(client_of(other_student), lab))
    result = node_runtime().check(mine.runtime_name, f"ping -c 1 {theirs.name}".encode(), timeout=10)
    assert result.exit_code == 0 and theirs.ip_address.encode() in result.output, result.output
    assert client_for(teacher).post(reverse("labs:egress", args=[lab.pk]), {"egress": "none"}).status_code == 302
    runtime_name = mine.network.runtime_name
    wait_until(lambda: networks.inspect(str(settings.TERRARIUM_ROOT), runtime_name)["egress"] == "none")
