"""The teacher's grid in Chromium against Daphne and Redis: a student's check
result, stored and announced as the labs' node half does, changes the cell
in place on the one socket (no reload, no reconnect, no polling); a student who joins appears as a new row;
clicking a cell shows the last check's output."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from class_helpers import check, enrol_with_instance, make_class, make_lab
from dashboard.classes.services import class_join
from dashboard.labs.push import instance_changed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 30_000


@pytest.fixture
def klass(teacher, node):
    return make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))


@pytest.fixture
def page(browser_page, teacher):
    page = browser_page(teacher)
    page.set_default_timeout(WAIT_MS)
    return page


def off_the_browser_thread(fn, *args, **kwargs):
    """Playwright runs an event loop in the test's thread, where a push (async_to_sync) cannot run."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def store_result(instance, step_id, state, **fields):
    run = check(instance, step_id, state, **fields)
    instance_changed(instance_group=instance.group, step_id=step_id)
    return run


def test_the_grid_updates_in_place_when_a_check_result_is_stored(klass, owner, other_student, page):
    instance = off_the_browser_thread(enrol_with_instance, klass=klass, student=owner)
    page.goto(f"/classes/{klass.pk}/")
    expect(page.locator("[data-grid-status]")).to_have_text("live")
    page.evaluate("() => { window.beforeUpdate = true; }")
    cell = page.locator(f'tr[data-student="{owner.pk}"] td[data-step="make"]')
    expect(cell).to_have_attribute("data-state", "pending")

    off_the_browser_thread(store_result, instance, "make", "failed", message="No file yet.",
                           output="FAIL: /tmp/a missing", after_seconds=3)
    expect(cell).to_have_attribute("data-state", "failed")
    expect(cell).to_contain_text("No file yet.")
    off_the_browser_thread(store_result, instance, "make", "passed", after_seconds=70)
    expect(cell).to_have_attribute("data-state", "passed")
    expect(cell).to_contain_text("1 min 10 s · 2×")
    expect(page.locator('th[data-column="make"] [data-share]')).to_have_text("100 %")

    off_the_browser_thread(class_join, student=other_student, code=klass.join_code, throttle_key="test")
    expect(page.locator(f'tr[data-student="{other_student.pk}"] td[data-step="fill"]')).to_have_attribute(
        "data-state", "pending")
    expect(page.locator('th[data-column="make"] [data-share]')).to_have_text("50 %")
    assert page.evaluate("() => window.beforeUpdate") is True
    expect(page.locator("[data-class-grid]")).to_have_attribute("data-connects", "1")

    page.locator(f'tr[data-student="{owner.pk}"] td[data-step="make"] button').click()
    dialog = page.locator("[data-cell-output]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-cell-state]")).to_contain_text("passed")
