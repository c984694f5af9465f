"""A shell opened on the container page of a student's lab suspended while
idle: the lab resumes as its lab page resumes it (the node's runtime worker
thaws it), the student is told, and the shell opens in the same processes.
Nobody else's shell resumes it."""

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect
from runtime import Runtime
from shell_helpers import ShellClient, shell_path

from class_helpers import make_class, make_lab
from dashboard.classes.models import Enrolment
from dashboard.containers.models import Container
from dashboard.labs.models import LabInstance

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def suspended_lab(running_container, owner, teacher, node):
    """`owner`'s lab instance in `teacher`'s class, its container suspended as
    the class's idle limit suspends it (frozen, memory kept)."""
    klass = make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))
    Enrolment.objects.create(klass=klass, student=owner)
    LabInstance.objects.create(lab=klass.lab, student=owner, container=running_container, status="ready",
                               ready_at=timezone.now())
    Runtime(root=settings.TERRARIUM_ROOT).pause(running_container.runtime_name)
    Container.objects.filter(pk=running_container.pk).update(status="paused", status_detail="suspended while idle")
    return running_container


@pytest.fixture
def cookies(session_cookie_for, owner, teacher):
    return {user.username: session_cookie_for(user) for user in (owner, teacher)}


def status(container) -> str:
    return Container.objects.get(pk=container.pk).status


async def test_the_students_shell_resumes_their_suspended_lab_and_opens_in_it(
        worker, shell_agent, suspended_lab, cookies):
    runtime = Runtime(root=settings.TERRARIUM_ROOT)
    pid = runtime.get(suspended_lab.runtime_name).pid
    client = await ShellClient(shell_path(suspended_lab), cookies["owner"]).connect()
    await client.until(lambda: {"type": "resuming"} in client.controls)
    await client.session_id()
    assert await database_sync_to_async(status)(suspended_lab) == "running"
    state = runtime.get(suspended_lab.runtime_name)
    assert state.status == "running" and state.pid == pid
    await client.type("echo resumed-$((6*7))\n")
    await client.read_until(b"resumed-42\r\n")
    await client.type("exit\n")
    assert await client.closed() == 1000


async def test_a_teachers_shell_leaves_the_students_lab_suspended(worker, shell_agent, suspended_lab, cookies):
    client = await ShellClient(shell_path(suspended_lab), cookies["teacher"]).connect()
    assert await client.closed() == 4409
    assert client.controls == [{"type": "error", "message": "container is paused"}]
    assert await database_sync_to_async(status)(suspended_lab) == "paused"
    assert Runtime(root=settings.TERRARIUM_ROOT).get(suspended_lab.runtime_name).status == "paused"


# Every status a shell tab shows, in order: "resuming" lasts a moment only.
RECORD_STATUSES = """
window.shellStatuses = [];
new MutationObserver(() => {
  const el = document.querySelector(".shell-tab .shell-status");
  if (el && el.textContent && window.shellStatuses.at(-1) !== el.textContent) window.shellStatuses.push(el.textContent);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.mark.browser
def test_on_the_container_page_the_student_sees_their_lab_resume_and_works_in_the_shell(
        agent_process, worker, suspended_lab, owner, browser_page):
    page = browser_page(owner)
    page.add_init_script(RECORD_STATUSES)
    page.goto(f"/containers/{suspended_lab.pk}/")
    page.get_by_role("button", name="Open shell").click()
    expect(page.locator(".shell-tab .shell-status")).to_have_text("connected")
    assert page.evaluate("window.shellStatuses") == ["connecting", "resuming", "connected"]
    page.locator(".shell-pane:not([hidden]) .xterm").click()
    page.keyboard.type("echo resumed-$((6*7))")
    page.keyboard.press("Enter")
    expect(page.locator(".shell-pane:not([hidden]) .xterm-rows")).to_contain_text("resumed-42")
    assert status(suspended_lab) == "running"
