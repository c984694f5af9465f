"""Labs through the real stack (Daphne, Redis, the Celery worker, the node
agent, the runtime), driven as the lab page drives it (static/js/lab-page.js):
the student posts "Start lab", lands on the lab page, whose instance socket
says when the instance is ready (container running, setup done); the page
then opens a shell on the instance's container (terminal-tabs.js,
terminal.js), and the student has a prompt at the first `# ` it shows.

- one student: click -> prompt, alone on the node, median of SINGLE starts;
- start: STUDENTS students click "Start lab" within one second; from each
  click to its instance ready and to its prompt, median and worst of the
  class, for each of ROUNDS rounds (a round's instances are removed before
  the next);
- check round trip: with the class's instances running, one student clicks
  "Check" on a step whose check takes 200 ms; from the POST to the result
  arriving on the page's socket, CHECKS times, p50 and p95.

Targets: one student's prompt within 5 s; every prompt of the class within
10 s (median of 3 rounds); check p95 <= 1 s.
Needs root; everything is removed at the end (bench/dashboard_stack.py)."""

import asyncio
import io
import os
import re
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_stack import Session, stack  # noqa: E402
from shell_latency import Socket, percentile  # noqa: E402

STUDENTS = int(os.environ.get("BENCH_STUDENTS", 30))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
SINGLE = int(os.environ.get("BENCH_SINGLE_STARTS", 5))
CHECKS = int(os.environ.get("BENCH_CHECKS", 60))
# A start that has no prompt by then is wedged: the run ends with an error.
START_SECONDS = 120
# xterm.js's size before the page fits it.
TERMINAL = "rows=24&cols=80"
LAB = b"""\
title: Bench lab
image: busybox
limits: {memory: 32m, cpus: 0.1, pids: 32}
setup: echo ready > /root/ready
steps:
  - id: slow
    title: A check of 200 ms
    text: x
    check: {run: "sleep 0.2; test -e /root/ready"}
"""


def students(password: str) -> list:
    from django.contrib.auth.models import User

    return [User.objects.create_user(f"student{n}", password=password) for n in range(STUDENTS)]


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def click(web: Session, lab_id: int, gate: threading.Barrier | None) -> tuple[float, bytes]:
    """The "Start lab" form posted; the lab page it redirects to."""
    if gate is not None:
        gate.wait()
    clicked = time.perf_counter()
    _, _, page = web.post(f"/labs/{lab_id}/start/", {})
    return clicked, page


async def start_to_prompt(port: int, web: Session, lab_id: int, pool, gate=None) -> tuple[float, float]:
    """One student's start: seconds from the click to the instance ready on the
    page's socket, and to the first prompt in the page's shell."""
    clicked, page = await asyncio.get_running_loop().run_in_executor(pool, click, web, lab_id, gate)
    instance = re.search(rb'data-ws="(/ws/labs/instances/\d+/)"', page)
    shells = re.search(rb'data-ws-base="(/ws/containers/\d+/shell/)"', page)
    if instance is None or shells is None:
        raise SystemExit("the lab page after Start has no instance socket or no shell panel")
    cookie = next(c.value for c in web.jar if c.name == "sessionid")
    view = await Socket.open(port, instance.group(1).decode(), cookie)
    while True:
        _, message = await view.frame()
        if message["status"] == "failed":
            raise SystemExit(f"setup failed: {message}")
        if message["status"] == "ready":
            break
    ready = time.perf_counter()
    view.writer.close()
    shell = await Socket.open(port, f"{shells.group(1).decode()}?{TERMINAL}", cookie)
    await shell.session()
    # As the page does on its session message.
    shell.send_json({"type": "resize", "rows": 24, "cols": 80})
    await shell.until(b"# ")
    prompt = time.perf_counter()
    shell.writer.close()
    return ready - clicked, prompt - clicked


async def class_starts(port: int, sessions: list, lab_id: int) -> list[tuple[float, float]]:
    """Every student clicks Start at once."""
    gate = threading.Barrier(len(sessions), timeout=START_SECONDS)
    with ThreadPoolExecutor(len(sessions)) as pool:
        return await asyncio.wait_for(
            asyncio.gather(*(start_to_prompt(port, web, lab_id, pool, gate) for web in sessions)), START_SECONDS
        )


async def single_start(port: int, web: Session, lab_id: int) -> tuple[float, float]:
    with ThreadPoolExecutor(1) as pool:
        return await asyncio.wait_for(start_to_prompt(port, web, lab_id, pool), START_SECONDS)


def remove_instances(lab) -> None:
    """The lab's instances gone, with their containers and their shells (the
    agent closes a shell whose process died with its container)."""
    from dashboard.containers.models import Container
    from dashboard.containers.services import container_delete
    from dashboard.labs.models import LabInstance
    from dashboard.shell.models import ShellSession

    for instance in LabInstance.objects.filter(lab=lab).select_related("container"):
        container_delete(container=instance.container)
    deadline = time.monotonic() + START_SECONDS
    while (Container.objects.exclude(status="deleted").exists()
           or ShellSession.objects.filter(closed_at__isnull=True).exists()):
        if time.monotonic() > deadline:
            raise SystemExit(f"containers or shells still there {START_SECONDS} s after their instances' removal")
        time.sleep(0.05)
    LabInstance.objects.filter(lab=lab).delete()


async def round_trips(port: int, web: Session, instance_id: int) -> list[float]:
    cookie = next(c.value for c in web.jar if c.name == "sessionid")
    sock = await Socket.open(port, f"/ws/labs/instances/{instance_id}/", cookie)
    await sock.frame()
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(CHECKS):
        start = time.perf_counter()
        await loop.run_in_executor(None, web.post, f"/labs/instances/{instance_id}/steps/slow/check/", {})
        while True:
            _, message = await asyncio.wait_for(sock.frame(), 30)
            step = message["steps"][0]
            if not step["running"]:
                break
        times.append(time.perf_counter() - start)
    return times


def report(what: str, times: list[tuple[float, float]]) -> float:
    """Prints a round's figures; returns its worst time to a prompt."""
    ready, prompt = [t[0] for t in times], [t[1] for t in times]
    print(f"{what}: ready median {statistics.median(ready):.2f} s, worst {max(ready):.2f} s; "
          f"prompt median {statistics.median(prompt):.2f} s, worst {max(prompt):.2f} s (load {load()})")
    return max(prompt)


def main() -> None:
    with stack(agent=True) as s:
        # Django is set up by the stack.
        from django.core.files.uploadedfile import SimpleUploadedFile

        from dashboard.labs.models import LabInstance
        from dashboard.labs.services import lab_assign_all, lab_import

        lab = lab_import(owner=s.user, upload=SimpleUploadedFile("lab.yaml", LAB))
        lab_assign_all(lab=lab, teacher=s.user)
        students(s.password)
        sessions = [Session(s.url, f"student{n}", s.password) for n in range(STUDENTS)]
        port = int(s.url.rsplit(":", 1)[1])
        print(f"load before: {load()}")
        alone = []
        for n in range(SINGLE):
            alone.append(asyncio.run(single_start(port, sessions[0], lab.pk)))
            remove_instances(lab)
        report(f"one student alone, {SINGLE} starts", alone)
        print(f"one student: click -> prompt, median of {SINGLE}: "
              f"{statistics.median(t[1] for t in alone):.2f} s (target <= 5 s)")
        worst = []
        for n in range(ROUNDS):
            if n:
                remove_instances(lab)
            times = asyncio.run(class_starts(port, sessions, lab.pk))
            worst.append(report(f"round {n + 1}, {STUDENTS} students", times))
        print(f"class: worst click -> prompt of {STUDENTS} students, median of {ROUNDS} rounds: "
              f"{statistics.median(worst):.2f} s (target <= 10 s)")
        instance = LabInstance.objects.get(lab=lab, student__username="student0")
        times = asyncio.run(round_trips(port, sessions[0], instance.pk))
        print(f"check round trip (200 ms check, {STUDENTS} instances running, {len(times)} checks): "
              f"p50 {percentile(times, 0.5) * 1000:.0f} ms, p95 {percentile(times, 0.95) * 1000:.0f} ms "
              f"(target p95 <= 1000 ms; load {load()})")


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    main()
