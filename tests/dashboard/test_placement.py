"""Placement: a new container goes to the least-loaded node whose worker is
alive; with no live worker, to the node seen last, where it waits; a
container of a saved image goes to the node that holds it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.containers.models import Container
from dashboard.containers.services import container_create
from dashboard.images.models import Image
from dashboard.nodes.models import Node
from dashboard.nodes.selectors import node_pick_for_launch

pytestmark = pytest.mark.django_db


def make_node(name, *, cpus=2, worker_age=0, free=1 << 30):
    return Node.objects.create(
        name=name, cpus=cpus, memory_free_bytes=free, heartbeat_at=timezone.now(),
        worker_heartbeat_at=timezone.now() - timedelta(seconds=worker_age),
    )


def fill(node, owner, count):
    image = Image.objects.get_or_create(name="img", owner=owner, defaults={"status": "ready"})[0]
    for i in range(count):
        Container.objects.create(owner=owner, image=image, node=node, name=f"{node.name}-{i}", status="running")


def test_the_node_with_fewest_containers_per_cpu_is_chosen(owner):
    busy, idle = make_node("busy"), make_node("idle")
    fill(busy, owner, 2)
    fill(idle, owner, 1)
    assert node_pick_for_launch() == idle


def test_more_cpus_carry_more_containers(owner):
    small, big = make_node("small", cpus=1), make_node("big", cpus=8)
    fill(small, owner, 1)
    fill(big, owner, 4)
    assert node_pick_for_launch() == big


def test_a_node_whose_worker_is_silent_is_not_chosen_while_another_is_alive(owner):
    make_node("silent", worker_age=3600)
    alive = make_node("alive")
    fill(alive, owner, 3)
    assert node_pick_for_launch() == alive


def test_with_no_live_worker_the_node_seen_last_is_chosen():
    make_node("old", worker_age=7200)
    recent = make_node("recent", worker_age=3600)
    assert node_pick_for_launch() == recent


def test_a_node_with_too_few_cpus_for_the_limit_is_skipped():
    make_node("small", cpus=1)
    big = make_node("big", cpus=4, free=1)
    assert node_pick_for_launch(cpus=2) == big


def test_a_container_of_a_saved_image_goes_to_the_node_that_saved_it(owner):
    holder, idle = make_node("holder"), make_node("idle")
    fill(holder, owner, 1)
    base = Image.objects.create(name="base", owner=owner, status="ready", node=idle)
    saved = Image.objects.create(name="saved", owner=owner, status="ready", node=holder, base=base, format="commit")
    container = container_create(owner=owner, image=saved, name="from-saved")
    assert container.node == holder
