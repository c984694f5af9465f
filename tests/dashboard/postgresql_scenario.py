"""Run by test_postgresql.py in a subprocess whose DATABASE_URL names a private
PostgreSQL: the services' conditional updates and row locks under real
concurrency. Usage: postgresql_scenario.py claim|quota_race; a failed
assertion exits non-zero."""

import sys
import threading
import uuid

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402
from django.db import connection  # noqa: E402

from dashboard.celery import app  # noqa: E402
from dashboard.containers import node as container_node, services  # noqa: E402
from dashboard.containers.models import Container  # noqa: E402
from dashboard.images.models import Image  # noqa: E402
from dashboard.nodes.models import Node  # noqa: E402
from dashboard.nodes.services import node_worker_seen  # noqa: E402

assert connection.vendor == "postgresql", connection.vendor
S = Container.Status


def _race(count: int, work) -> list:
    """work(i) in `count` threads released together, each on its own connection."""
    barrier, results = threading.Barrier(count), [None] * count

    def run(i):
        barrier.wait()
        try:
            results[i] = work(i)
        except ValidationError as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _setup():
    tag = uuid.uuid4().hex[:8]
    student = get_user_model().objects.create_user(username=f"student-{tag}", password="pw")
    teacher = get_user_model().objects.create_user(username=f"teacher-{tag}", password="pw")
    node_worker_seen(name=settings.NODE_NAME)
    node = Node.objects.get(name=settings.NODE_NAME)
    image = Image.objects.create(
        name=f"busybox-{tag}", owner=teacher, visibility=Image.Visibility.SHARED,
        node=node, status=Image.Status.READY, store_name=f"busybox-{tag}",
    )
    return student, image, node


# The scenarios share a database, so earlier scenarios' nodes are live too:
# launches name this one, whose queue _purge_launches empties.
def _purge_launches() -> int:
    """Drops the launches queued for this node (no worker consumes them) and counts them."""
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(f"node.{settings.NODE_NAME}")


def claim():
    student, image, node = _setup()
    container = services.container_create(owner=student, image=image, name="web", node=node)
    assert container.status == S.QUEUED
    claims = _race(2, lambda _: container_node.claim(container.id, expect=S.QUEUED, status=S.STARTING, status_detail=""))
    assert sorted(claims) == [False, True], claims
    assert not container_node.claim(container.id, expect=S.QUEUED, status=S.STARTING, status_detail="")
    container.refresh_from_db()
    assert container.status == S.STARTING
    assert _purge_launches() == 1


def quota_race():
    student, image, node = _setup()
    # Students may run 3 containers: of 5 simultaneous launches exactly 3 may pass the quota.
    results = _race(5, lambda i: services.container_create(owner=student, image=image, name=f"c{i}", node=node))
    created = [r for r in results if isinstance(r, Container)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(created) == 3 and len(refused) == 2, results
    assert all("Quota reached" in str(r) for r in refused), refused
    assert Container.objects.filter(owner=student, status=S.QUEUED).count() == 3
    assert _purge_launches() == 3


{"claim": claim, "quota_race": quota_race}[sys.argv[1]]()
