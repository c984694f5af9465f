"""The container page shows its network, its address and a link per open port
(to the app proxy's `/apps/<pk>/<port>/`)."""

import pytest
from django.urls import reverse

from dashboard.containers.models import Container
from dashboard.images.models import Image
from dashboard.networks.models import Network

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(owner, node):
    return Image.objects.create(name="busybox", owner=owner, node=node, status="ready", store_name="busybox-1")


def test_the_page_shows_address_network_and_open_ports(client_for, owner, image):
    network = Network.objects.create(owner=owner, name="owner", kind="personal")
    container = Container.objects.create(owner=owner, image=image, node=image.node, name="web", network=network,
                                         ip_address="10.88.3.2", app_ports=[80, 8080], status="running")
    page = client_for(owner).get(reverse("containers:detail", args=[container.pk])).content.decode()
    assert 'data-container-ip="10.88.3.2">10.88.3.2<' in page
    assert 'data-container-network="owner">owner<' in page
    for port in (80, 8080):
        assert (f'<a href="/apps/{container.pk}/{port}/" target="_blank" rel="noopener noreferrer" '
                f'data-app-port="{port}">Open port {port}</a>') in page
    assert "Let teachers open my ports" in page


def test_a_container_on_no_network_says_so(client_for, owner, image):
    container = Container.objects.create(owner=owner, image=image, node=image.node, name="lone", status="running")
    page = client_for(owner).get(reverse("containers:detail", args=[container.pk])).content.decode()
    assert 'data-container-network="none">None (loopback only)<' in page
    assert 'data-container-ip="">—<' in page
    assert "data-app-port=" not in page
    assert "Let teachers open my ports" not in page


def test_another_students_container_page_is_a_404(client_for, owner, other_student, image):
    container = Container.objects.create(owner=owner, image=image, node=image.node, name="web", app_ports=[80])
    assert client_for(other_student).get(reverse("containers:detail", args=[container.pk])).status_code == 404
