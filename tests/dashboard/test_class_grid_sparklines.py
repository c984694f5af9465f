"""The grid's row ends with the instance's cpu and memory sparklines, drawn
from the monitoring's 1-second samples in Redis (server-rendered SVG, the
same points in the socket's grid), and nothing for an instance without samples."""

import re
import time

import pytest
import redis
from django.conf import settings

from class_helpers import enrol_with_instance, make_class, make_lab
from dashboard.monitoring.history import samples_add

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def klass(teacher, node):
    return make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))


@pytest.fixture
def samples():
    """add(container_id, seconds_ago, cpu, memory): a 1-second sample in the real history; gone at the end."""
    r = redis.Redis.from_url(settings.REDIS_URL)
    added = set()

    def add(container_id, seconds_ago, cpu, memory):
        pipe = r.pipeline()
        samples_add(pipe, [(container_id, {"t": time.time() - seconds_ago, "cpu_percent": cpu, "memory_bytes": memory,
                                           "memory_limit_bytes": 64 << 20})], [])
        pipe.execute()
        added.add(container_id)

    yield add
    for container_id in added:
        r.delete(f"terrarium:stats:c:{container_id}:s")
    r.close()


def row_of(page: str, student_id: int) -> str:
    return page.split(f'<tr data-student="{student_id}"', 1)[1].split("</tr>", 1)[0]


def test_a_running_instances_row_shows_its_cpu_and_memory(client_for, teacher, owner, other_student, klass, samples):
    mine = enrol_with_instance(klass=klass, student=owner)
    enrol_with_instance(klass=klass, student=other_student)
    for ago, cpu in ((90, 10.0), (32, 80.0), (2, 37.0)):
        samples(mine.container_id, ago, cpu, 16 << 20)
    page = client_for(teacher).get(f"/classes/{klass.pk}/").content.decode()
    mine_row = row_of(page, owner.pk)
    cpu = re.search(r'data-spark-line="cpu" points="([^"]*)"', mine_row).group(1)
    memory = re.search(r'data-spark-line="memory" points="([^"]*)"', mine_row).group(1)
    assert len(cpu.split()) == 24 and len(memory.split()) == 24
    # 80 % of a core is the highest point (SVG y grows downwards), in the 5-second bucket of 32 s ago.
    heights = [float(point.split(",")[1]) for point in cpu.split()]
    assert min(heights) == heights[17] == pytest.approx(16 * (1 - 0.8), abs=0.1)
    assert '<small data-spark-label="cpu">37 %</small>' in mine_row
    assert '<small data-spark-label="memory">16 MiB</small>' in mine_row
    assert 'data-spark-line="cpu" points=""' in row_of(page, other_student.pk)

    grid = client_for(teacher).get(f"/classes/{klass.pk}/grid.json").json()
    by_student = {row["username"]: row for row in grid["rows"]}
    assert by_student["owner"]["spark"]["cpu"] == cpu and by_student["other_student"]["spark"] is None
