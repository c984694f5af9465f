"""A lab shell's recording played in a real browser: the student works in a
shell of their lab through the real stack (Daphne, Redis, the node agent,
a real container); their teacher finds it on the class's recordings page
and asciinema-player, served from static/vendor, plays it back."""

import pytest
from class_helpers import make_class, make_lab
from django.utils import timezone
from playwright.sync_api import expect

from dashboard.classes.models import Enrolment
from dashboard.labs.models import LabInstance
from dashboard.shell.models import Recording

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 30_000


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
        agent_process, recording_dir, lab_class, running_container, owner, teacher, browser_page, wait_until):
    klass = lab_class
    student = browser_page(owner)
    student.goto(f"/containers/{running_container.pk}/")
    student.get_by_role("button", name="Open shell").click()
    expect(student.locator(".shell-tab .shell-status")).to_have_text("connected", timeout=WAIT_MS)
    student.locator(".shell-pane:not([hidden]) .xterm").click()
    student.keyboard.type("echo played-$((6*7)); exit")
    student.keyboard.press("Enter")
    recording = wait_until(lambda: Recording.objects.filter(ended_at__isnull=False).first())

    page = browser_page(teacher)
    page.goto(f"/classes/{klass.pk}/")
    page.get_by_role("link", name="Recordings").click()
    page.locator(f"[data-recordings-of='{owner.username}'] a[data-recording='{recording.pk}']").click()
    player = page.locator("[data-recording-player] .ap-player")
    expect(player).to_be_visible(timeout=WAIT_MS)
    player.click()
    expect(page.locator("[data-recording-player] .ap-term")).to_contain_text("played-42", timeout=WAIT_MS)
