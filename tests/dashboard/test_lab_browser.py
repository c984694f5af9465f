"""A lab in a real browser against the real stack (Daphne, Redis, the worker,
the node agent, a real container): the teacher imports and assigns it, the
student starts it, works in the terminal, checks (by a click, or by itself
after a command for an `auto` step), and a reload keeps it all."""

import re

import pytest
from playwright.sync_api import expect

from dashboard.containers.models import Container
from dashboard.containers.services import container_delete
from dashboard.labs.models import LabInstance

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

LAB = """\
title: First steps
image: busybox
setup: echo ready > /root/setup-ran
steps:
  - id: done-file
    title: Make a file
    text: |
      Click Run:

      ```run
      touch /tmp/done
      ```
    check:
      run: |
        test -e /tmp/done || { echo "FAIL: /tmp/done is missing"; exit 1; }
      fail: Not yet.
  - id: hello
    title: Say hello
    text: Write hello into /tmp/hello.
    check: {run: grep -q hello /tmp/hello, auto: true}
"""


@pytest.fixture
def lab_containers(wait_until):
    """Deletes the lab instances' containers at the end (through the worker)."""
    yield
    for container in Container.objects.exclude(status="deleted"):
        container_delete(container=container)
    wait_until(lambda: not Container.objects.exclude(status="deleted").exists())


def step(page, step_id):
    return page.locator(f'[data-step="{step_id}"]')


def test_a_student_starts_a_lab_works_in_the_terminal_and_checks_pass(
    agent_process, worker, busybox_image, teacher, owner, browser_page, lab_containers, tmp_path
):
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(LAB)
    teaching = browser_page(teacher, width=1400)
    teaching.goto("/labs/")
    teaching.get_by_role("button", name="Import lab").click()
    teaching.get_by_label("Lab file").set_input_files(str(lab_file))
    teaching.get_by_role("button", name="Import", exact=True).click()
    expect(teaching.get_by_role("heading", name="First steps")).to_be_visible()
    teaching.get_by_role("button", name="Assign to all students").click()
    expect(teaching.get_by_text("Assigned to all students")).to_be_visible()

    page = browser_page(owner, width=1400)
    page.goto("/labs/")
    page.get_by_role("link", name="First steps").click()
    page.get_by_role("button", name="Start lab").click()
    expect(page.locator(".shell-tab .shell-status")).to_have_text("connected")
    assert LabInstance.objects.get(student=owner).status == "ready"
    # The sparklines get the container's samples from the node agent's sampler.
    expect(page.locator('[data-spark-value="memory"]')).to_have_text(re.compile(r"^[\d.]+ (B|KiB|MiB)$"))

    first = step(page, "done-file")
    expect(first).to_have_attribute("data-state", "pending")
    first.get_by_role("button", name="Check").click()
    expect(first).to_have_attribute("data-state", "failed")
    expect(first.locator("[data-message]")).to_have_text("Not yet. /tmp/done is missing")

    first.get_by_role("button", name="Run").click()
    expect(page.locator(".shell-pane:not([hidden]) .xterm-rows")).to_contain_text("touch /tmp/done")
    first.get_by_role("button", name="Check").click()
    expect(first).to_have_attribute("data-state", "passed")
    # An auto step is checked after each command line has finished, without a click: not done yet.
    expect(step(page, "hello")).to_have_attribute("data-state", "failed")

    page.locator(".shell-pane:not([hidden]) .xterm").click()
    page.keyboard.type("echo hello > /tmp/hello")
    page.keyboard.press("Enter")
    expect(step(page, "hello")).to_have_attribute("data-state", "passed")
    expect(page.locator("[data-progress]")).to_have_text("2/2")

    page.reload()
    expect(step(page, "done-file")).to_have_attribute("data-state", "passed")
    expect(step(page, "hello")).to_have_attribute("data-state", "passed")
    expect(page.locator("[data-progress]")).to_have_text("2/2")
    expect(page.locator(".shell-tab")).to_have_count(1)
    expect(page.locator(".shell-pane:not([hidden]) .xterm-rows")).to_contain_text(re.compile(r"echo hello"))
