"""The new-container form: each wrong value gets a clear message beside its
field and nothing is created; a right one queues a launch."""

import html

import pytest
from django.urls import reverse

from dashboard.containers.models import Container
from dashboard.images.models import Image
from runtime import ContainerConfig, InvalidArgument

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(owner, node):
    return Image.objects.create(name="busybox", owner=owner, node=node, status="ready", store_name="busybox-1")


def post(client, image, **fields):
    return client.post(reverse("containers:new"), {"image": image.id, "name": "web", **fields})


def test_the_form_has_the_documented_fields_and_button(client_for, owner, image):
    page = client_for(owner).get(reverse("containers:new")).content.decode()
    for label in ["Image", "Name", "Command", "Memory limit", "CPU limit", "Pids limit", "Disk limit", "Hostname", "Environment"]:
        assert f">{label}</label>" in page, label
    assert ">Launch</button>" in page


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("memory_limit", "lots", "Use a size such as 64m or 1g."),
        ("memory_limit", "1k", "at least 6m"),
        ("cpu_limit", "0.05", "between 0.1 and"),
        ("cpu_limit", "99", "between 0.1 and"),
        ("cpu_limit", "fast", "Use a number such as 0.5."),
        ("pids_limit", "0", "greater than or equal to 1"),
        ("disk_limit", "lots", "Use a size such as 512m or 1g."),
        ("disk_limit", "1m", "at least 16m"),
        ("hostname", "-bad-", "RFC 1123"),
        ("hostname", "a_b.example", "RFC 1123"),
        ("environment", "NOEQUALS", "Line 1 is not KEY=value"),
        ("environment", "1X=2", "Line 1 is not KEY=value"),
        ("command", "sh -c 'unclosed", "cannot be split as a shell would"),
        ("name", "bad name!", "Use letters, digits"),
    ],
)
def test_a_wrong_value_is_explained_beside_its_field(client_for, owner, image, field, value, message):
    response = post(client_for(owner), image, **{field: value})
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html
    error = html.split(f'id="id_{field}_error">', 1)[1].split("</span>", 1)[0]
    assert message in error
    assert not Container.objects.exists()


def error_beside(response, field) -> str:
    return html.unescape(response.content.decode().split(f'id="id_{field}_error">', 1)[1].split("</span>", 1)[0])


@pytest.mark.parametrize(
    "field, value, config",
    [
        ("memory_limit", "5m", {"memory_bytes": 5 << 20}),
        ("disk_limit", "8m", {"disk_bytes": 8 << 20}),
        ("pids_limit", "0", {"pids_limit": 0}),
        ("name", "bad name!", {"name": "bad name!"}),
    ],
)
def test_a_value_the_runtime_refuses_gets_the_runtimes_message(client_for, owner, image, field, value, config):
    with pytest.raises(InvalidArgument) as refused:
        ContainerConfig(image="busybox", **config).validate()
    response = post(client_for(owner), image, **{field: value})
    assert response.status_code == 400
    assert error_beside(response, field) == str(refused.value)
    assert not Container.objects.exists()


def test_an_image_the_user_cannot_see_is_refused(client_for, other_student, image):
    image.visibility = Image.Visibility.PRIVATE
    image.save(update_fields=["visibility"])
    response = post(client_for(other_student), image)
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Container.objects.exists()


def test_a_valid_form_queues_a_launch_with_the_parsed_values(client_for, owner, image, node):
    response = post(
        client_for(owner), image,
        command="sh -c 'echo a; echo b'", memory_limit="64m", cpu_limit="0.5", pids_limit="50",
        hostname="web-1.example", environment="A=1\nB=x=y\n", disk_limit="512m",
    )
    container = Container.objects.get()
    assert response["Location"] == reverse("containers:detail", args=[container.id])
    assert container.command == ["sh", "-c", "echo a; echo b"]
    assert container.env == {"A": "1", "B": "x=y"}
    assert (container.memory_bytes, container.cpus, container.pids_limit) == (64 << 20, 0.5, 50)
    assert container.disk_bytes == 512 << 20
    assert container.hostname == "web-1.example"
    assert container.status == "queued" and container.node == node
    assert container.status_detail == ""
    assert list(container.events.values_list("kind", flat=True)) == ["created"]


def test_memory_sizes_accept_the_usual_units(client_for, teacher, image):
    client = client_for(teacher)
    for number, (text, expected) in enumerate([("64m", 64 << 20), ("1g", 1 << 30), ("65536k", 64 << 20)]):
        post(client, image, name=f"c{number}", memory_limit=text)
    assert sorted(Container.objects.values_list("memory_bytes", flat=True)) == sorted([64 << 20, 1 << 30, 64 << 20])


def test_a_duplicate_name_is_refused_beside_the_name(client_for, owner, image):
    client = client_for(owner)
    post(client, image, memory_limit="64m")
    response = post(client, image, memory_limit="64m")
    assert response.status_code == 400
    assert "You already have a container named web." in response.content.decode()
    assert Container.objects.count() == 1
