"""The shell in a real browser against the real stack (Daphne, Redis, the
node agent, a real container): open it from the container page, work in
it, reload the page and find the same session with its screen."""

import re

import pytest
from playwright.sync_api import expect

from dashboard.shell.models import ShellSession

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def screen(page, pane=".shell-pane:not([hidden])"):
    return page.locator(f"{pane} .xterm-rows")


def open_shell(page, container) -> None:
    page.goto(f"/containers/{container.pk}/")
    page.get_by_role("button", name="Open shell").click()
    expect(page.locator(".shell-tab .shell-status")).to_have_text("connected")


def type_line(page, text: str, terminal=".shell-pane:not([hidden]) .xterm") -> None:
    """Focus the terminal and type one command line."""
    page.locator(terminal).click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_student_opens_a_shell_computes_and_finds_it_again_after_reload(
    agent_process, running_container, owner, browser_page
):
    page = browser_page(owner)
    open_shell(page, running_container)
    type_line(page, "echo $((6*7))")
    expect(screen(page)).to_contain_text(re.compile(r"echo \$\(\(6\*7\)\)\s*42"))
    key = ShellSession.objects.get(container=running_container).key

    page.reload()
    expect(page.locator(".shell-tab")).to_have_count(1)
    expect(page.locator(".shell-tab .shell-status")).to_have_text("connected")
    expect(screen(page)).to_contain_text(re.compile(r"echo \$\(\(6\*7\)\)\s*42"))
    assert page.locator(".shell-tab").get_attribute("data-session") == key

    type_line(page, "stty size")
    # The PTY has the geometry the window gave the terminal, after reattaching too.
    rows = screen(page).locator(":scope > div").count()
    assert rows > 10
    expect(screen(page)).to_contain_text(re.compile(rf"stty size\s*{rows} \d+"))


def test_teacher_watches_a_students_shell_from_the_sessions_list(
    agent_process, running_container, owner, teacher, browser_page
):
    student = browser_page(owner)
    open_shell(student, running_container)
    type_line(student, "echo visible-$((2+3))")
    expect(screen(student)).to_contain_text("visible-5")

    watcher = browser_page(teacher)
    watcher.goto("/shell/sessions/")
    expect(watcher.locator("tbody tr")).to_have_count(1)
    watcher.get_by_role("link", name="Watch").click()
    expect(watcher.locator(".shell-status")).to_have_text("watching")
    expect(screen(watcher, "#terminal")).to_contain_text("visible-5")
    type_line(watcher, "echo from-teacher", terminal="#terminal .xterm")
    type_line(student, "echo after-$((3+4))")
    expect(screen(watcher, "#terminal")).to_contain_text("after-7")
    expect(screen(student)).not_to_contain_text("from-teacher")
