"""The new-container form's "Network" and "Ports": it offers only the networks
the user may use (their own, their classes' shared ones, none), refuses a
forged choice of anyone else's, and checks the ports it opens."""

import html

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from class_helpers import make_class, make_lab
from dashboard.classes.models import Enrolment
from dashboard.containers.models import Container
from dashboard.containers.services import container_create
from dashboard.images.models import Image
from dashboard.networks.models import Network

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(owner, node):
    return Image.objects.create(name="busybox", owner=owner, node=node, status="ready", store_name="busybox-1",
                                visibility="shared")


def post(client, image, **fields):
    return client.post(reverse("containers:new"), {"image": image.id, "name": "web", **fields})


def offered(client) -> list[str]:
    page = client.get(reverse("containers:new")).content.decode()
    select = page.split('name="network"', 1)[1].split("</select>", 1)[0]
    return [part.split('"', 1)[0] for part in select.split('value="')[1:]]


def error_beside(response, field) -> str:
    return html.unescape(response.content.decode().split(f'id="id_{field}_error">', 1)[1].split("</span>", 1)[0])


@pytest.fixture
def shared(teacher, node):
    """teacher's network for their class, in which owner (not other_student) is enrolled."""
    klass = make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))
    return Network.objects.create(owner=teacher, name="group", kind="shared", klass=klass)


def test_the_form_has_network_and_ports_fields(client_for, owner, image):
    page = client_for(owner).get(reverse("containers:new")).content.decode()
    assert ">Network</label>" in page and ">Ports</label>" in page


def test_the_form_offers_only_networks_the_user_may_use(client_for, owner, other_student, teacher, shared, image):
    Enrolment.objects.create(klass=shared.klass, student=owner)
    Network.objects.create(owner=teacher, name="private", kind="shared")
    Network.objects.create(owner=other_student, name="other_student", kind="personal")
    assert offered(client_for(owner)) == ["personal", str(shared.pk), "none"]
    assert offered(client_for(other_student)) == ["personal", "none"]
    assert set(offered(client_for(teacher))) == {"personal", "none", str(shared.pk),
                                                 str(Network.objects.get(name="private").pk)}


def test_a_container_joins_the_chosen_shared_network(client_for, owner, shared, image):
    Enrolment.objects.create(klass=shared.klass, student=owner)
    assert post(client_for(owner), image, network=str(shared.pk)).status_code == 302
    assert Container.objects.get().network == shared


def test_a_forged_choice_of_another_users_network_is_refused(client_for, owner, other_student, shared, image):
    theirs = Network.objects.create(owner=other_student, name="other_student", kind="personal")
    for network in (theirs, shared):
        response = post(client_for(owner), image, network=str(network.pk))
        assert response.status_code == 400
        assert "not one of the available choices" in error_beside(response, "network")
    assert not Container.objects.exists()


def test_the_service_refuses_a_network_the_owner_may_not_use(owner, other_student, image):
    theirs = Network.objects.create(owner=other_student, name="other_student", kind="personal")
    with pytest.raises(ValidationError, match="You may not use that network"):
        container_create(owner=owner, image=image, name="web", network=theirs)
    assert not Container.objects.exists()


def test_the_default_is_the_users_own_network_made_once(client_for, owner, image):
    client = client_for(owner)
    assert post(client, image).status_code == 302
    assert post(client, image, name="db", network="personal").status_code == 302
    personal = Network.objects.get()
    assert (personal.owner, personal.kind, personal.name) == (owner, "personal", "owner")
    assert [c.network for c in Container.objects.all()] == [personal, personal]


def test_none_makes_no_network(client_for, owner, image):
    assert post(client_for(owner), image, network="none").status_code == 302
    assert Container.objects.get().network is None
    assert not Network.objects.exists()


def test_ports_are_stored_sorted_without_repeats(client_for, owner, image):
    assert post(client_for(owner), image, ports="8080, 80 8080,443").status_code == 302
    assert Container.objects.get().app_ports == [80, 443, 8080]


@pytest.mark.parametrize("ports", ["0", "65536", "http", "80;81", "-1", "1 2 3 4 5 6 7 8 9", "８０"])
def test_bad_ports_get_one_clear_error(client_for, owner, image, ports):
    response = post(client_for(owner), image, ports=ports)
    assert response.status_code == 400
    assert error_beside(response, "ports") == (
        "Ports are at most 8 container ports from 1 to 65535, separated by commas or spaces.")
    assert not Container.objects.exists()
