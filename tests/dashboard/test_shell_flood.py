"""A program printing as fast as it can, read by a slow browser: every
process in the path keeps its memory bounded, and Ctrl-C still works."""

import asyncio

import psutil
import pytest
import redis
from django.conf import settings
from shell_helpers import ShellClient, shell_path

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FLOOD_SECONDS = 10
GROWTH_LIMIT = 48 << 20


@pytest.fixture
def owner_cookie(session_cookie_for, owner):
    return session_cookie_for(owner)


def redis_used_memory() -> int:
    return redis.Redis.from_url(settings.REDIS_URL).info("memory")["used_memory"]


async def test_flood_with_a_slow_reader_keeps_memory_bounded_and_ctrl_c_stops_it(
    agent_process, running_container, owner_cookie
):
    client = await ShellClient(shell_path(running_container), owner_cookie).connect()
    await client.session_id()
    await client.type("echo ready\n")
    await client.read_until(b"ready\r\n")
    agent, web = psutil.Process(agent_process.pid), psutil.Process()
    base = {"agent": agent.memory_info().rss, "web": web.memory_info().rss, "redis": redis_used_memory()}
    peak = dict(base)

    await client.type("yes\n")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FLOOD_SECONDS
    frames = 0
    while loop.time() < deadline:
        await client.next_frame()
        frames += 1
        await asyncio.sleep(0.05)
        now = {"agent": agent.memory_info().rss, "web": web.memory_info().rss, "redis": redis_used_memory()}
        peak = {k: max(peak[k], now[k]) for k in peak}

    growth = {k: peak[k] - base[k] for k in peak}
    print("flood memory growth:", ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in growth.items()), f"({frames} frames read)")
    assert all(g < GROWTH_LIMIT for g in growth.values()), growth
    assert frames > 0

    await client.type("\x03")
    await client.type("echo flood-$((1+1))\n")
    await client.read_until(b"flood-2\r\n", timeout=60)
    await client.type("exit\n")
    await client.closed(timeout=60)
