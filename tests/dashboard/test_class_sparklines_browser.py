"""The grid's sparklines in Chromium against Daphne and Redis: samples the
monitoring writes for a student's container reach their row's cpu and memory
sparklines over the grid's socket within its periodic refresh, without a
reload or a second socket."""

import time

import pytest
import redis
from django.conf import settings
from playwright.sync_api import expect

from class_helpers import enrol_with_instance, make_class, make_lab
from dashboard.monitoring.history import samples_add

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 30_000


@pytest.fixture
def instance(teacher, owner, node):
    klass = make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))
    return enrol_with_instance(klass=klass, student=owner)


@pytest.fixture
def page(browser_page, teacher):
    page = browser_page(teacher)
    page.set_default_timeout(WAIT_MS)
    return page


@pytest.fixture
def history(instance):
    """The instance's container's sample history in the real Redis; gone at the end."""
    r = redis.Redis.from_url(settings.REDIS_URL)
    yield r
    r.delete(f"terrarium:stats:c:{instance.container_id}:s")
    r.close()


def test_new_samples_reach_the_rows_sparklines_without_a_reload(instance, page, history):
    page.goto(f"/classes/{instance.lab.classes.get().pk}/")
    expect(page.locator("[data-grid-status]")).to_have_text("live")
    row = page.locator(f'tr[data-student="{instance.student_id}"]')
    expect(row.locator('[data-spark-line="cpu"]')).to_have_attribute("points", "")
    page.evaluate("() => { window.beforeUpdate = true; }")

    pipe = history.pipeline()
    samples_add(pipe, [(instance.container_id, {"t": time.time() - ago, "cpu_percent": cpu, "memory_bytes": 24 << 20,
                                                "memory_limit_bytes": 64 << 20}) for ago, cpu in ((20, 90.0), (1, 37.0))],
                [])
    pipe.execute()

    expect(row.locator('[data-spark-label="cpu"]')).to_have_text("37 %", timeout=WAIT_MS)
    expect(row.locator('[data-spark-label="memory"]')).to_have_text("24 MiB")
    assert len(row.locator('[data-spark-line="memory"]').get_attribute("points").split()) == 24
    assert page.evaluate("() => window.beforeUpdate") is True
    expect(page.locator("[data-class-grid]")).to_have_attribute("data-connects", "1")
