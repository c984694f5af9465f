"""Latency from the cgroup read to a WebSocket client on loopback: the
sampler (its own process) samples 100 running containers at 1 Hz, Daphne
serves the stats sockets, and WATCHED clients each watch one container.
A sample's `t` is taken just before its cgroup files are read; the
latency is the client's clock at arrival minus `t`. Target: p95 <= 100 ms.

Needs root; everything, its processes too, is removed at the end, also on
failure or SIGTERM (see bench/sampler.py)."""

import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import time

from sampler import CONTAINERS, REPO, SECONDS, free_port, stack, start_sampler, stop

WATCHED = int(os.environ.get("BENCH_WATCHED", 10))


def start_daphne(env: dict, port: int, cleanup) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard.webserver", "-b", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    cleanup.callback(stop, proc)
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    raise RuntimeError("daphne did not start")


async def _frames(reader, writer):
    """Messages of a WebSocket connection (a minimal client: the Django
    process here has twisted's txaio, so autobahn's asyncio client is out).
    Answers pings, so Daphne keeps the connection."""
    while True:
        head = await reader.readexactly(2)
        opcode, length = head[0] & 0x0F, head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await reader.readexactly(8), "big")
        payload = await reader.readexactly(length)
        if opcode == 0x9:
            mask = os.urandom(4)
            writer.write(bytes([0x8A, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        elif opcode == 0x8:
            return
        elif opcode == 0x1:
            yield time.time(), payload


async def _watch_one(port: int, cookie: str, pk: int, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws/containers/{pk}/stats/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: http://127.0.0.1:{port}\r\nCookie: sessionid={cookie}\r\n\r\n".encode()
    )
    status = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in status.split(b"\r\n")[0]:
        raise RuntimeError(f"stats socket refused: {status.splitlines()[0]!r}")
    async for arrived, payload in _frames(reader, writer):
        message = json.loads(payload)
        if message["type"] == "sample":
            latencies.append(arrived - message["t"])


async def watch(port: int, cookie: str, container_ids: list[int], seconds: float) -> list[float]:
    latencies: list[float] = []
    tasks = [asyncio.create_task(_watch_one(port, cookie, pk, latencies)) for pk in container_ids]
    done, _ = await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_EXCEPTION)
    for task in tasks:
        task.cancel()
    for task in done:
        task.result()
    return latencies


def main() -> None:
    with stack(CONTAINERS) as s:
        from django.test import Client

        client = Client()
        client.force_login(s.user)
        cookie = client.cookies["sessionid"].value
        port = free_port()
        start_daphne(s.env, port, s.cleanup)
        start_sampler(s.env, s.cleanup)
        ids = [c.pk for c in s.containers[:WATCHED]]
        latencies = asyncio.run(watch(port, cookie, ids, SECONDS))
    if len(latencies) < 20:
        sys.exit(f"stats_latency: only {len(latencies)} samples arrived")
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    print(f"stats latency, cgroup read -> WebSocket client ({CONTAINERS} containers sampled, {WATCHED} watched, "
          f"{len(ms)} samples): p50 {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms (target <= 100), max {ms[-1]:.1f} ms; "
          f"load average {open('/proc/loadavg').read().split()[0]}")


if __name__ == "__main__":
    main()
