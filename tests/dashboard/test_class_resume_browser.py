"""A suspended lab resumes by itself when its student comes back, in
Chromium on the real stack (Daphne, Redis, the node's runtime worker and its
heartbeat's limits pass, the node agent, a real container): a class with a
short idle limit suspends the student's idle instance; the student opens the
lab's page; the lab resumes with its processes and files, and the terminal works."""

import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect
from runtime import Runtime

from class_helpers import make_class
from dashboard.classes.models import Enrolment
from dashboard.containers.models import Container
from dashboard.containers.services import container_delete
from dashboard.labs.models import LabInstance
from dashboard.labs.services import lab_import, lab_instance_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 60_000
LAB = b"""\
title: Resume lab
image: busybox
limits: {memory: 64m, pids: 64}
steps:
  - {id: one, title: One, text: x, check: {run: 'true'}}
"""


@pytest.fixture
def instance(teacher, owner, busybox_image, worker, wait_until):
    """`owner`'s ready instance in a class idle after 2 seconds, a file written in it; deleted at the end."""
    lab = lab_import(owner=teacher, upload=SimpleUploadedFile("lab.yaml", LAB))
    klass = make_class(teacher=teacher, lab=lab)
    Enrolment.objects.create(klass=klass, student=owner)
    started = lab_instance_start(lab=lab, student=owner)
    wait_until(lambda: LabInstance.objects.get(pk=started.pk).status == "ready")
    instance = LabInstance.objects.select_related("container", "lab").get(pk=started.pk)
    runtime = Runtime(root=settings.TERRARIUM_ROOT)
    assert runtime.check(instance.container.runtime_name, b"echo kept > /root/work", timeout=10).exit_code == 0
    klass.idle_limit_seconds = 2
    klass.save()
    yield instance
    container = Container.objects.get(pk=instance.container_id)
    if not container.is_gone:
        container_delete(container=container)
    wait_until(lambda: Container.objects.get(pk=container.pk).status == "deleted")


@pytest.fixture
def page(browser_page, owner):
    page = browser_page(owner)
    page.set_default_timeout(WAIT_MS)
    return page


def test_the_student_opens_the_suspended_labs_page_and_it_resumes_with_a_working_terminal(
        agent_process, instance, page, wait_until):
    runtime = Runtime(root=settings.TERRARIUM_ROOT)
    pid = runtime.get(instance.container.runtime_name).pid
    # The worker's heartbeat finds the instance idle and suspends it.
    wait_until(lambda: Container.objects.get(pk=instance.container_id).status == "paused"
               and runtime.get(instance.container.runtime_name).status == "paused")
    klass = instance.lab.classes.get()
    klass.idle_limit_seconds = 3600
    klass.save()

    page.goto(f"/labs/{instance.lab_id}/")
    expect(page.locator(".shell-tab .shell-status")).to_have_text("connected", timeout=WAIT_MS)
    assert Container.objects.get(pk=instance.container_id).status == "running"
    state = runtime.get(instance.container.runtime_name)
    assert state.status == "running" and state.pid == pid
    page.locator(".shell-pane:not([hidden]) .xterm").click()
    page.keyboard.type("cat /root/work; echo $((6*7))")
    page.keyboard.press("Enter")
    expect(page.locator(".shell-pane:not([hidden]) .xterm-rows")).to_contain_text(re.compile(r"kept\s*42"), timeout=WAIT_MS)
