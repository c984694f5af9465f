"""End to end in a real browser against the real stack (Daphne, Redis, the
Celery worker, the runtime): log in, import the busybox tarball through the
upload form, launch a container with a 64m limit, see it running, stop it,
delete it."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 60_000


@pytest.fixture
def page(browser_page):
    page = browser_page()
    page.set_default_timeout(WAIT_MS)
    return page


def test_a_student_imports_an_image_and_runs_stops_and_deletes_a_container(page, owner, worker, busybox_tar):
    page.goto("/login/")
    page.get_by_label("Username", exact=True).fill("owner")
    page.get_by_label("Password", exact=True).fill("pw-owner")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Containers")).to_be_visible()

    page.goto("/images/")
    page.get_by_role("link", name="Import image").click()
    page.get_by_label("Tarball", exact=True).set_input_files(str(busybox_tar))
    page.get_by_label("Name", exact=True).fill("e2e-busybox")
    page.get_by_role("button", name="Import", exact=True).click()
    row = page.locator("tr", has_text="e2e-busybox")
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "ready", timeout=WAIT_MS)

    page.goto("/containers/new/")
    page.get_by_label("Image", exact=True).select_option(label="e2e-busybox")
    page.get_by_label("Name", exact=True).fill("web")
    page.get_by_label("Command", exact=True).fill("sh -c 'while true; do sleep 1; done'")
    page.get_by_label("Memory limit", exact=True).fill("64m")
    page.get_by_role("button", name="Launch").click()
    status = page.locator("#container [data-status]")
    expect(status).to_have_attribute("data-status", "running", timeout=WAIT_MS)
    expect(page.locator("dl.config")).to_contain_text("64.0 MiB memory")
    expect(page.locator("[data-started-at]")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"), timeout=WAIT_MS)

    page.get_by_role("button", name="Stop").click()
    expect(status).to_have_attribute("data-status", "exited", timeout=WAIT_MS)

    page.get_by_role("button", name="Delete").click()
    expect(status).to_have_attribute("data-status", "deleted", timeout=WAIT_MS)
    page.goto("/")
    expect(page.get_by_role("link", name="web")).to_have_count(0)
