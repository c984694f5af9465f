"""Pull image in a real browser against the real stack (Daphne, Redis, the
Celery worker, docker-registry on 127.0.0.1): type a reference, click Pull,
see the layer's bytes arrive, then the image ready."""

import gzip
import os
import signal

import pytest
from playwright.sync_api import expect

from registry_testing import Registry

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 60_000
# Every text the progress cells showed, however briefly.
RECORD_PROGRESS = """
window.progressSeen = [];
new MutationObserver(() => {
  for (const cell of document.querySelectorAll("[data-progress]")) {
    if (cell.textContent) window.progressSeen.push(cell.textContent);
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


@pytest.fixture
def registry():
    started = Registry()
    yield started
    os.kill(started.process.pid, signal.SIGCONT)
    started.stop()


@pytest.fixture
def page(browser_page, owner):
    page = browser_page(owner)
    page.set_default_timeout(WAIT_MS)
    page.add_init_script(RECORD_PROGRESS)
    return page


def test_a_student_pulls_an_image_sees_its_progress_and_then_ready(page, worker, registry, busybox_tar):
    layer = gzip.compress(busybox_tar.read_bytes(), mtime=0)
    registry.push_image("lab/busybox", "1", [layer])
    page.goto("/images/")
    page.get_by_label("Reference", exact=True).fill(f"{registry.netloc}/lab/busybox:1")
    # The registry stands still until the page's socket is open: the pull cannot be over before the page listens.
    os.kill(registry.process.pid, signal.SIGSTOP)
    page.get_by_role("button", name="Pull", exact=True).click()
    row = page.locator("tr", has_text="busybox:1")
    expect(row).to_be_visible()
    expect(page.locator("#images[data-live]")).to_be_attached()
    os.kill(registry.process.pid, signal.SIGCONT)

    expect(row.locator("[data-status]")).to_have_attribute("data-status", "ready", timeout=WAIT_MS)
    seen = page.evaluate("window.progressSeen")
    assert any(text.startswith("layer 1/1 ") and " / " in text for text in seen), seen
    expect(row.locator("[data-progress]")).to_have_text("")
