"""The container page's "Open shell" button follows the container's status
as the page polls it, not only the status the page was loaded with: a
container that starts while its page is open can be opened at once."""

import pytest
from playwright.sync_api import expect

from dashboard.containers.models import Container
from dashboard.images.models import Image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def starting_container(owner, node):
    image = Image.objects.create(name="busybox", owner=owner, node=node, status="ready", store_name="x-1")
    return Container.objects.create(owner=owner, image=image, node=node, name="web", status="starting")


def test_open_shell_is_enabled_once_the_container_runs_and_disabled_once_it_exits(
    starting_container, owner, browser_page
):
    page = browser_page(owner)
    page.goto(f"/containers/{starting_container.pk}/")
    button = page.get_by_role("button", name="Open shell")
    expect(button).to_be_disabled()

    Container.objects.filter(pk=starting_container.pk).update(status="running")
    expect(page.locator("[data-status]")).to_have_text("running")
    expect(button).to_be_enabled()

    Container.objects.filter(pk=starting_container.pk).update(status="exited")
    expect(page.locator("[data-status]")).to_have_text("exited")
    expect(button).to_be_disabled()
