"""Labs through the real stack (Daphne, Redis, the Celery worker, the runtime):

- start: STUDENTS students click "Start lab" within one second; the time
  from each click to its instance being ready (container running, setup
  done: the shell's prompt comes from there), worst of the class, for each
  of ROUNDS rounds (a round's instances are removed before the next);
- check round trip: with the class's instances running, one student clicks
  "Check" on a step whose check takes 200 ms; from the POST to the result
  arriving on the page's socket, CHECKS times, p50 and p95.

Targets: every prompt within 10 s (median of 3 rounds), check p95 <= 1 s.
Needs root; everything is removed at the end (bench/dashboard_stack.py)."""

import asyncio
import io
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_stack import Session, stack  # noqa: E402
from shell_latency import Socket, percentile  # noqa: E402

STUDENTS = int(os.environ.get("BENCH_STUDENTS", 30))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
CHECKS = int(os.environ.get("BENCH_CHECKS", 60))
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


def start_round(url: str, sessions: list, lab) -> list[float]:
    """Every student clicks Start at once; seconds from each click to its instance ready."""
    from dashboard.labs.models import LabInstance

    clicked = {}
    barrier = threading.Barrier(len(sessions))

    def click(n, web):
        barrier.wait()
        clicked[n] = time.perf_counter()
        web.post(f"/labs/{lab.pk}/start/", {})

    threads = [threading.Thread(target=click, args=(n, web)) for n, web in enumerate(sessions)]
    for thread in threads:
        thread.start()
    ready = {}
    deadline = time.monotonic() + 120
    while len(ready) < len(sessions) and time.monotonic() < deadline:
        for instance in LabInstance.objects.filter(lab=lab).select_related("student"):
            n = int(instance.student.username.removeprefix("student"))
            if n not in ready and instance.status in ("ready", "failed"):
                if instance.status == "failed":
                    raise SystemExit(f"{instance.student}: {instance.setup_output}")
                ready[n] = time.perf_counter()
        time.sleep(0.02)
    for thread in threads:
        thread.join()
    if len(ready) < len(sessions):
        raise SystemExit(f"only {len(ready)} of {len(sessions)} instances ready after 120 s")
    return [ready[n] - clicked[n] for n in ready]


def remove_instances(lab) -> None:
    from dashboard.containers.models import Container
    from dashboard.containers.services import container_delete
    from dashboard.labs.models import LabInstance

    for instance in LabInstance.objects.filter(lab=lab).select_related("container"):
        container_delete(container=instance.container)
    while Container.objects.exclude(status="deleted").exists():
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


def main() -> None:
    with stack() as s:
        # Django is set up by the stack.
        from django.core.files.uploadedfile import SimpleUploadedFile

        from dashboard.labs.models import LabInstance
        from dashboard.labs.services import lab_assign_all, lab_import

        lab = lab_import(owner=s.user, upload=SimpleUploadedFile("lab.yaml", LAB))
        lab_assign_all(lab=lab, teacher=s.user)
        students(s.password)
        sessions = [Session(s.url, f"student{n}", s.password) for n in range(STUDENTS)]
        worst = []
        for n in range(ROUNDS):
            if n:
                remove_instances(lab)
            times = start_round(s.url, sessions, lab)
            worst.append(max(times))
            print(f"round {n + 1}: {STUDENTS} starts, ready in median {statistics.median(times):.2f} s, "
                  f"worst {max(times):.2f} s")
        print(f"start: worst of {STUDENTS} students, median of {ROUNDS} rounds: {statistics.median(worst):.2f} s "
              "(target <= 10 s)")
        instance = LabInstance.objects.get(lab=lab, student__username="student0")
        port = int(s.url.rsplit(":", 1)[1])
        times = asyncio.run(round_trips(port, sessions[0], instance.pk))
        print(f"check round trip (200 ms check, {STUDENTS} instances running, {len(times)} checks): "
              f"p50 {percentile(times, 0.5) * 1000:.0f} ms, p95 {percentile(times, 0.95) * 1000:.0f} ms "
              "(target p95 <= 1000 ms)")


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    main()
