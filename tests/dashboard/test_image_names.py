"""Image names are per owner: a student's "ubuntu" neither takes the name
before the teacher publishes theirs nor stands in for it. Lists show whose an
image is, and the new-container form chooses by id with the owner in the label."""

import io
import re

import pytest
from django.db import IntegrityError
from django.urls import reverse

from dashboard.images.models import Image

pytestmark = pytest.mark.django_db


def upload(client, data: bytes, name: str, visibility="private"):
    tarball = io.BytesIO(data)
    tarball.name = "rootfs.tar"
    return client.post(reverse("images:new"), {"tarball": tarball, "name": name, "visibility": visibility})


def ready(owner, node, name, visibility="private"):
    return Image.objects.create(
        name=name, owner=owner, node=node, status="ready", store_name=f"{name}-{owner.id}", visibility=visibility
    )


def options(page: str) -> dict[str, str]:
    """The Image select's options: label -> value (the image's id)."""
    select = re.search(r'<select name="image"[^>]*>(.*?)</select>', page, re.S).group(1)
    return {label.strip(): value for value, label in re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select)}


def test_a_student_may_not_take_a_name_before_the_teacher(client_for, owner, teacher, node, uploads, busybox_tar):
    assert upload(client_for(owner), busybox_tar.read_bytes(), "ubuntu", "shared").status_code == 302
    assert upload(client_for(teacher), busybox_tar.read_bytes(), "ubuntu", "shared").status_code == 302
    assert sorted(Image.objects.filter(name="ubuntu").values_list("owner__username", flat=True)) == ["owner", "teacher"]


def test_two_owners_may_share_a_name_but_not_one_owner_twice(owner, teacher, node):
    ready(owner, node, "ubuntu")
    ready(teacher, node, "ubuntu")
    with pytest.raises(IntegrityError):
        ready(owner, node, "ubuntu")


def test_the_container_form_names_a_shared_image_with_its_owner(client_for, owner, other_student, teacher, node):
    mine = ready(owner, node, "ubuntu", "shared")
    teachers = ready(teacher, node, "ubuntu", "shared")
    page = client_for(other_student).get(reverse("containers:new")).content.decode()
    assert options(page) == {"ubuntu (shared by owner)": str(mine.id), "ubuntu (shared by teacher)": str(teachers.id)}
    page = client_for(owner).get(reverse("containers:new")).content.decode()
    assert list(options(page).items()) == [("ubuntu", str(mine.id)), ("ubuntu (shared by teacher)", str(teachers.id))]


def test_the_container_form_launches_the_image_chosen_by_id(client_for, owner, other_student, teacher, node):
    ready(owner, node, "ubuntu", "shared")
    teachers = ready(teacher, node, "ubuntu", "shared")
    client = client_for(other_student)
    response = client.post(reverse("containers:new"), {"image": teachers.id, "name": "web", "memory_limit": "64m"})
    assert response.status_code == 302
    assert other_student.containers.get().image == teachers


def test_the_images_page_lists_shared_images_apart_with_their_owner(client_for, owner, teacher, node):
    ready(owner, node, "ubuntu")
    ready(teacher, node, "ubuntu", "shared")
    page = client_for(owner).get(reverse("images:list")).content.decode()
    own, others = page.split('data-images="others"')
    assert "<td>ubuntu</td>" in own and "shared by teacher" not in own
    assert "<td>ubuntu</td>" in others and "<td>shared by teacher</td>" in others
