"""A lab shell's recording played in a real browser: the student works in a
shell of their lab through the real stack (Daphne, Redis, the node agent,
a real container); their teacher finds it on the class's recordings page
and asciinema-player, served from static/vendor, plays it back."""

import pytest
from class_helpers import make_class, make_lab
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from dashboard.classes.models import Enrolment
from dashboard.labs.models import LabInstance
from dashboard.shell.models import Recording

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
WAIT_MS = 30_000


@pytest.fixture
def browser_context(live_server, session_cookie_for, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM is only used around it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    def login(user):
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1200, "height": 900})
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie_for(user),
                              "url": live_server.url}])
        context.set_default_timeout(WAIT_MS)
        return context.new_page()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield login
        browser.close()


@pytest.fixture
def lab_class(running_container, owner, teacher, node):
    """`teacher`'s class, in which `owner`'s instance of the lab is the running container
    (made before the browser's event loop runs: saving it notifies the class's grid)."""
    lab = make_lab(teacher=teacher, node=node)
    klass = make_class(teacher=teacher, lab=lab)
    Enrolment.objects.create(klass=klass, student=owner)
    LabInstance.objects.create(lab=lab, student=owner, container=running_container, status="ready",
                               ready_at=timezone.now())
    return klass


def test_the_teacher_plays_a_students_lab_shell_back(
        agent_process, recording_dir, lab_class, running_container, owner, teacher, browser_context, wait_until):
    klass = lab_class
    student = browser_context(owner)
    student.goto(f"/containers/{running_container.pk}/")
    student.get_by_role("button", name="Open shell").click()
    expect(student.locator(".shell-tab .shell-status")).to_have_text("connected", timeout=WAIT_MS)
    student.locator(".shell-pane:not([hidden]) .xterm").click()
    student.keyboard.type("echo played-$((6*7)); exit")
    student.keyboard.press("Enter")
    recording = wait_until(lambda: Recording.objects.filter(ended_at__isnull=False).first())

    page = browser_context(teacher)
    page.goto(f"/classes/{klass.pk}/")
    page.get_by_role("link", name="Recordings").click()
    page.locator(f"[data-recordings-of='{owner.username}'] a[data-recording='{recording.pk}']").click()
    player = page.locator("[data-recording-player] .ap-player")
    expect(player).to_be_visible(timeout=WAIT_MS)
    player.click()
    expect(page.locator("[data-recording-player] .ap-term")).to_contain_text("played-42", timeout=WAIT_MS)
