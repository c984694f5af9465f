"""The graphs in a real browser against the real stack: Daphne, Redis, the
node agent's sampler and a real container. They draw, they move every
tick, they mark events pushed live, and the home page's overview shows the
container with its sparkline and the host panel."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.conf import settings
from playwright.sync_api import expect

from dashboard.containers.models import Event
from dashboard.containers.events import event_record
from processes import start_node_agent, stop_group

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 30_000


@pytest.fixture
def node_agent(runtime_env, node, running_container, tmp_path):
    """The real node agent (heartbeat, sampler, shell) for this node, as root,
    with `running_container` to sample; its stats history goes at the end."""
    proc = start_node_agent(runtime_env, node.name, tmp_path / "agent.log")
    yield proc
    stop_group(proc)
    r = redis.Redis.from_url(settings.REDIS_URL)
    pk = running_container.pk
    r.delete(f"terrarium:stats:n:{node.name}:s", f"terrarium:stats:c:{pk}:s", f"terrarium:stats:c:{pk}:m")
    r.close()


@pytest.fixture
def page(browser_page, owner):
    page = browser_page(owner)
    page.set_default_timeout(WAIT_MS)
    return page


def _graphs_attr(page, name):
    return page.evaluate(f"() => document.querySelector('[data-graphs]').dataset.{name} || ''")


def _painted(page, graph) -> bool:
    """Whether the graph's canvas has any drawn pixel (uPlot draws series and axes on it)."""
    return page.evaluate(
        """(key) => {
            const c = document.querySelector(`[data-graph="${key}"] canvas`);
            const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
            return false;
        }""",
        graph,
    )


def _record_off_the_browser_thread(**kwargs):
    """Playwright runs an event loop in the test's thread, where the event's
    push (async_to_sync) cannot run; a plain thread is what the worker has."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(event_record, **kwargs).result()


def test_container_graphs_draw_move_and_mark_live_events(running_container, node_agent, page):
    page.goto(f"/containers/{running_container.pk}/")
    expect(page.locator("[data-graphs-status]")).to_have_text("live")
    page.wait_for_function("() => +document.querySelector('[data-graphs]').dataset.samples >= 2")
    first = float(_graphs_attr(page, "lastT"))
    page.wait_for_function(f"() => +document.querySelector('[data-graphs]').dataset.lastT > {first}")
    for graph in ("cpu", "memory", "pids", "network"):
        assert _painted(page, graph), graph
    expect(page.locator('[data-graph="memory"] .u-legend')).to_contain_text("limit")

    before = int(_graphs_attr(page, "events"))
    _record_off_the_browser_thread(container=running_container, kind=Event.Kind.THROTTLED, data={"throttled_ms": 12})
    page.wait_for_function(f"() => +document.querySelector('[data-graphs]').dataset.events > {before}")
    expect(page.locator('#events tr[data-event="throttled"]')).to_have_count(1)

    page.get_by_role("button", name="1 h").click()
    expect(page.get_by_role("button", name="1 h")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => +document.querySelector('[data-graphs]').dataset.samples >= 2")


def test_overview_shows_the_running_container_and_the_host(running_container, node_agent, node, page):
    page.goto("/")
    card = page.locator(f'.overview-card[data-container-id="{running_container.pk}"]')
    expect(card).to_contain_text("sleeper")
    page.wait_for_function(
        f"() => +document.querySelector('.overview-card[data-container-id=\"{running_container.pk}\"]').dataset.samples >= 2"
    )
    host = page.locator(f'.overview-card.host[data-node="{node.name}"]')
    expect(host).to_contain_text("containers")
    expect(host.locator("[data-count]")).not_to_have_text("")
