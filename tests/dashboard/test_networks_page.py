"""/networks/: the networks a user may use, with their egress and containers;
teachers make shared networks (for a class or their group, up to a limit)
and change their egress; anyone else's network is a 404."""

import pytest
from django.urls import reverse

from class_helpers import make_class, make_lab
from dashboard.classes.models import Enrolment
from dashboard.containers.models import Container
from dashboard.images.models import Image
from dashboard.networks.models import Network

pytestmark = pytest.mark.django_db


def create(client, **fields):
    return client.post(reverse("networks:list"), {"name": "group", "egress": "internet", **fields})


def row_of(page: str, network: Network) -> str:
    return page.split(f'data-network="{network.pk}"', 1)[1].split("</tr>", 1)[0]


def test_a_teacher_gets_the_new_network_form(client_for, teacher):
    page = client_for(teacher).get(reverse("networks:list")).content.decode()
    assert "<h2>New network</h2>" in page
    for label in ("Name", "Egress", "Class"):
        assert f">{label}</label>" in page, label


def test_a_teacher_creates_a_shared_network_for_a_class(client_for, teacher, node):
    klass = make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))
    response = create(client_for(teacher), egress="none", klass=klass.pk)
    assert response.status_code == 302
    network = Network.objects.get()
    assert (network.owner, network.kind, network.egress, network.klass) == (teacher, "shared", "none", klass)
    page = client_for(teacher).get(reverse("networks:list")).content.decode()
    assert f'data-network="{network.pk}" data-egress="none"' in page


def test_a_student_sees_their_classes_network_without_its_controls(client_for, teacher, owner, other_student, node):
    klass = make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))
    network = Network.objects.create(owner=teacher, name="group", kind="shared", klass=klass)
    Enrolment.objects.create(klass=klass, student=owner)
    page = client_for(owner).get(reverse("networks:list")).content.decode()
    assert f'data-network="{network.pk}" data-egress="internet"' in page
    assert "<h2>New network</h2>" not in page and ">Save</button>" not in page
    assert f'data-network="{network.pk}"' not in client_for(other_student).get(reverse("networks:list")).content.decode()


def test_a_student_may_not_create_a_network(client_for, owner):
    assert create(client_for(owner)).status_code == 403
    assert not Network.objects.exists()


def test_past_the_limit_a_teacher_gets_one_clear_error(client_for, teacher, settings):
    settings.NETWORKS_PER_TEACHER = 2
    client = client_for(teacher)
    for name in ("a", "b"):
        assert create(client, name=name).status_code == 302
    response = create(client, name="c")
    assert response.status_code == 400
    assert "Limit reached: a teacher may have at most 2 shared networks." in response.content.decode()
    assert Network.objects.count() == 2


@pytest.mark.parametrize("name", ["", "-x", "a b", "x" * 64])
def test_a_bad_name_is_refused(client_for, teacher, name):
    assert create(client_for(teacher), name=name).status_code == 400
    assert not Network.objects.exists()


def test_a_class_of_another_teacher_is_refused(client_for, teacher, second_teacher, node):
    klass = make_class(teacher=second_teacher, lab=make_lab(teacher=second_teacher, node=node))
    assert create(client_for(teacher), klass=klass.pk).status_code == 400
    assert not Network.objects.exists()


def test_the_teacher_changes_egress_with_save(client_for, teacher):
    network = Network.objects.create(owner=teacher, name="group", kind="shared")
    page = client_for(teacher).get(reverse("networks:list")).content.decode()
    assert ">Save</button>" in row_of(page, network)
    assert client_for(teacher).post(reverse("networks:egress", args=[network.pk]), {"egress": "none"}).status_code == 302
    network.refresh_from_db()
    assert network.egress == "none"


def test_another_users_network_is_a_404(client_for, teacher, second_teacher, owner, other_student):
    networks = [Network.objects.create(owner=second_teacher, name="theirs", kind="shared"),
                Network.objects.create(owner=other_student, name="other_student", kind="personal")]
    for network in networks:
        for user in (teacher, owner):
            client = client_for(user)
            assert client.post(reverse("networks:egress", args=[network.pk]), {"egress": "none"}).status_code == 404
            assert client.post(reverse("networks:delete", args=[network.pk])).status_code == 404
    assert set(Network.objects.values_list("egress", flat=True)) == {"internet"}


def test_students_may_not_change_egress_of_their_own_or_their_classes_network(client_for, teacher, owner, node):
    klass = make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))
    shared = Network.objects.create(owner=teacher, name="group", kind="shared", klass=klass)
    Enrolment.objects.create(klass=klass, student=owner)
    personal = Network.objects.create(owner=owner, name="owner", kind="personal")
    for network in (shared, personal):
        response = client_for(owner).post(reverse("networks:egress", args=[network.pk]), {"egress": "none"})
        assert response.status_code == 403
    assert set(Network.objects.values_list("egress", flat=True)) == {"internet"}


def test_a_network_with_containers_is_not_removed(client_for, teacher, node):
    network = Network.objects.create(owner=teacher, name="group", kind="shared")
    image = Image.objects.create(name="busybox", owner=teacher, node=node, status="ready", store_name="busybox-1")
    Container.objects.create(owner=teacher, image=image, node=node, name="web", network=network, status="running")
    response = client_for(teacher).post(reverse("networks:delete", args=[network.pk]), follow=True)
    assert "Network group has containers: delete them first." in response.content.decode()
    assert Network.objects.filter(pk=network.pk).exists()
    page = client_for(teacher).get(reverse("networks:list")).content.decode()
    assert "<td>1</td>" in row_of(page, network)


def test_a_network_without_containers_is_removed(client_for, teacher):
    network = Network.objects.create(owner=teacher, name="group", kind="shared")
    assert client_for(teacher).post(reverse("networks:delete", args=[network.pk])).status_code == 302
    assert not Network.objects.exists()
