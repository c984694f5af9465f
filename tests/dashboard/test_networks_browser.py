"""In Chromium: the new-container form's "Network" and "Ports", then the
container page showing the address the runtime gave it and its port links."""

import re

import pytest
from playwright.sync_api import expect

from dashboard.containers.models import Container
from dashboard.containers.node import node_runtime

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
WAIT_MS = 60_000


@pytest.fixture
def launched(worker):
    yield
    for state in node_runtime().list(all=True):
        node_runtime().delete(state.id, force=True)


def test_a_student_picks_network_and_ports_and_sees_the_address(browser_page, owner, busybox_image, launched):
    page = browser_page(owner)
    page.goto("/containers/new/")
    network = page.get_by_label("Network", exact=True)
    expect(network).to_have_value("personal")
    assert network.locator("option").all_inner_texts() == ["My network", "None (loopback only)"]
    page.get_by_label("Name", exact=True).fill("web")
    page.get_by_label("Command", exact=True).fill("httpd -f -p 80 -h /etc")
    page.get_by_label("Memory limit", exact=True).fill("64m")
    page.get_by_label("Ports", exact=True).fill("80, 8080")
    page.get_by_role("button", name="Launch").click()
    expect(page.locator("#container [data-status]")).to_have_attribute("data-status", "running", timeout=WAIT_MS)
    address = page.locator("[data-container-ip]")
    expect(address).to_have_text(re.compile(r"^10\.\d+\.\d+\.\d+$"), timeout=WAIT_MS)
    container = Container.objects.get(name="web")
    expect(address).to_have_attribute("data-container-ip", container.ip_address)
    expect(page.locator("[data-container-network]")).to_have_text("owner")
    for port in (80, 8080):
        link = page.get_by_role("link", name=f"Open port {port}", exact=True)
        expect(link).to_have_attribute("href", f"/apps/{container.pk}/{port}/")
