"""The student's page in Chromium shows the time limit's warning by itself
when the lab comes within the warning time of its stop (no reload), with a
countdown, what will happen and "Extend"; Extend moves the stop and the
warning goes. (The server-side rendering and the idle warning:
test_class_warnings.)"""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from class_helpers import enrol_with_instance, make_class, make_lab
from dashboard.classes.limits import warning_seconds
from dashboard.classes.models import Enrolment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 60_000
# The warning is due this long after the page is made.
DUE_AFTER_SECONDS = 20


@pytest.fixture
def klass(teacher, node):
    return make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node), student_extensions=1)


@pytest.fixture
def page(browser_page, owner):
    page = browser_page(owner)
    page.set_default_timeout(WAIT_MS)
    return page


def test_the_time_warning_appears_on_time_and_extend_moves_the_stop(klass, owner, page):
    with ThreadPoolExecutor(1) as pool:
        # Off the browser's thread: the new instance's push (async_to_sync) cannot run beside Playwright's loop.
        pool.submit(enrol_with_instance, klass=klass, student=owner).result()
    # The live server runs with the default warning time; the lab stops a little after it.
    klass.time_limit_seconds = warning_seconds() + DUE_AFTER_SECONDS
    klass.save()

    response = page.goto(f"/classes/{klass.pk}/mine/")
    assert "data-time-warning hidden" in response.text()
    warning = page.locator("[data-time-warning]")
    expect(warning).to_be_visible(timeout=WAIT_MS)
    expect(warning).to_contain_text("Your lab stops in")
    expect(warning).to_contain_text("your files are kept")
    expect(warning.locator("[data-countdown]")).to_have_text(re.compile(r"^[45] min \d+ s$"))
    warning.get_by_role("button", name="Extend").click()
    expect(page.locator("[data-time-warning]")).to_be_hidden()
    assert Enrolment.objects.get(klass=klass, student=owner).extra_seconds == 15 * 60
