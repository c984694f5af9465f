"""A class of 30 students and a lab of 10 steps (three check results per
student and step): the class page's server time (median of 30 renders
through Django's request handling, no network), and the grid socket's
messages while results arrive at 60 a second for 5 seconds (the consumer in
this process over the real Redis channel layer): at most one a second; and
the node half's limits pass over the 30 instances (idle and time checks):
none due (each with a shell whose typing is recorded), and all idle by every
other sign but busy by their cpu samples (the pass then reads the samples);
the class page is rendered with each row's sparklines read from 10 minutes
of 1-second samples per container in Redis."""

import asyncio
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_stack import stack  # noqa: E402

STUDENTS, STEPS, RUNS_PER_STEP = 30, 10, 3
RENDERS = 30
BURST_SECONDS, BURST_RATE = 5, 60
IDLE_LIMIT = 600
LAB = "title: Bench lab\nimage: busybox\nsteps:\n" + "".join(
    f"  - {{id: s{i}, title: Step {i}, text: x, check: {{run: 'true'}}}}\n" for i in range(STEPS))


def seed_class(s):
    from django.contrib.auth import get_user_model

    from dashboard.classes.models import Class, Enrolment
    from dashboard.containers.models import Container
    from dashboard.labs.labfile import parse_lab
    from dashboard.labs.models import CheckRun, Lab, LabInstance

    definition = parse_lab({"lab.yaml": LAB.encode()}).definition
    lab = Lab.objects.create(owner=s.user, title="Bench lab", image=s.image, definition=definition, source=LAB.encode())
    klass = Class.objects.create(name="Bench class", lab=lab, owner=s.user, seats=STUDENTS)
    instances = []
    for n in range(STUDENTS):
        student = get_user_model().objects.create_user(f"student{n:02}", password="x")
        Enrolment.objects.create(klass=klass, student=student)
        container = Container.objects.create(owner=student, image=s.image, node=s.node, name=f"lab-{n}",
                                             status="running")
        instances.append(LabInstance.objects.create(lab=lab, student=student, container=container, status="ready",
                                                    ready_at=container.created_at))
    states = ["failed", "error", "passed"]
    CheckRun.objects.bulk_create(
        CheckRun(instance=i, step_id=f"s{k}", state=states[r], message="No." if r == 0 else "", output="x" * 200,
                 exit_code=0, requested_at=i.ready_at + timedelta(seconds=60 * k + r))
        for i in instances for k in range(STEPS) for r in range(RUNS_PER_STEP)
    )
    return klass, instances


def seed_samples(container_ids, seconds: int, cpu: float) -> None:
    import redis
    from django.conf import settings

    from dashboard.monitoring.history import samples_add

    r = redis.Redis.from_url(settings.REDIS_URL)
    now = time.time()
    for start in range(0, seconds, 60):
        pipe = r.pipeline()
        samples_add(pipe, [(pk, {"t": now - seconds + t, "cpu_percent": cpu, "memory_bytes": 20 << 20,
                                 "memory_limit_bytes": 64 << 20})
                           for pk in container_ids for t in range(start, min(start + 60, seconds))], [])
        pipe.execute()
    r.close()


def seed_activity(instances, seconds: int, cpu: float) -> None:
    """`seconds` of 1-second samples per container (as the sampler writes them), and an
    open shell per instance whose input the agent recorded."""
    import redis
    from django.conf import settings

    from dashboard.classes.activity import input_key
    from dashboard.shell.models import ShellSession

    seed_samples([i.container_id for i in instances], seconds, cpu)
    r = redis.Redis.from_url(settings.REDIS_URL)
    now = time.time()
    for n, instance in enumerate(instances):
        session = ShellSession.objects.create(key=f"bench-{n}", container_id=instance.container_id,
                                              user_id=instance.student_id)
        r.set(input_key(session.key), repr(now - 30))
    r.close()


def render_times(s, klass) -> list[float]:
    from django.test import Client

    client = Client()
    client.force_login(s.user)
    page = client.get(f"/classes/{klass.pk}/").content
    assert page.count(b'<tr data-student="') == STUDENTS and page.count(b' data-step="') == STUDENTS * STEPS
    times = []
    for _ in range(RENDERS):
        start = time.perf_counter()
        assert client.get(f"/classes/{klass.pk}/").status_code == 200
        times.append((time.perf_counter() - start) * 1000)
    return times


async def socket_burst(s, klass, instances) -> tuple[int, int, float]:
    """-> (results announced, messages received, shortest gap between two messages in seconds)."""
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from channels.layers import get_channel_layer

    from dashboard.classes.routing import websocket_urlpatterns
    from dashboard.labs.push import LAYER

    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/classes/{klass.pk}/")
    communicator.scope["user"] = s.user
    assert (await communicator.connect())[0]
    await communicator.receive_from(timeout=10)
    layer = get_channel_layer(LAYER)
    arrivals = []

    async def receive():
        while True:
            await communicator.receive_from(timeout=BURST_SECONDS + 5)
            arrivals.append(time.monotonic())

    receiver = asyncio.create_task(receive())
    sent, start = 0, time.monotonic()
    while time.monotonic() - start < BURST_SECONDS:
        instance = instances[sent % len(instances)]
        await layer.group_send(instance.group, {"type": "lab.changed", "step": "s0"})
        sent += 1
        await asyncio.sleep(max(0.0, start + sent / BURST_RATE - time.monotonic()))
    await asyncio.sleep(2)
    receiver.cancel()
    await communicator.disconnect()
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    return sent, len(arrivals), min(gaps, default=float("inf"))


def limits_pass_ms(s, klass, idle_limit_seconds=86400) -> float:
    """The node half's pass over the class's 30 running instances, none due (the heartbeat's steady cost)."""
    from dashboard.classes.node import classes_limits_enforce_on_node

    klass.time_limit_seconds, klass.idle_limit_seconds = 86400, idle_limit_seconds
    klass.save()
    times = []
    for _ in range(RENDERS):
        start = time.perf_counter()
        assert classes_limits_enforce_on_node(node_name=s.node.name) == {}
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def make_idle(instances) -> None:
    """Made, ready and shells opened an hour ago, nothing typed since: idle by every sign but the cpu."""
    from datetime import timedelta

    import redis
    from django.conf import settings
    from django.utils import timezone

    from dashboard.classes.activity import input_key
    from dashboard.labs.models import CheckRun, LabInstance
    from dashboard.shell.models import ShellSession

    then = timezone.now() - timedelta(hours=1)
    LabInstance.objects.filter(pk__in=[i.pk for i in instances]).update(created_at=then, ready_at=then)
    CheckRun.objects.filter(instance__in=instances).update(requested_at=then)
    sessions = ShellSession.objects.filter(key__startswith="bench-")
    sessions.update(opened_at=then)
    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete(*(input_key(key) for key in sessions.values_list("key", flat=True)))
    r.close()


def quiet_scan_ms(instances) -> float:
    """The cpu read for 30 containers quiet all along (every sample of the window read,
    as happens once for an instance, in the pass that suspends it)."""
    import redis
    from django.conf import settings
    from django.utils import timezone

    from dashboard.classes.node import cpu_busy

    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete(*(f"terrarium:stats:c:{i.container_id}:s" for i in instances))
    r.close()
    ids = [i.container_id for i in instances]
    seed_samples(ids, IDLE_LIMIT, cpu=1.0)
    times = []
    for _ in range(RENDERS):
        start = time.perf_counter()
        assert cpu_busy(ids, IDLE_LIMIT, timezone.now()) == set()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    with stack(worker=False, web=False) as s:
        klass, instances = seed_class(s)
        seed_activity(instances, IDLE_LIMIT, cpu=50.0)
        times = render_times(s, klass)
        print(f"class page, {STUDENTS} students x {STEPS} steps ({STUDENTS * STEPS * RUNS_PER_STEP} check runs, "
              f"{RENDERS} renders): median {statistics.median(times):.1f} ms server time (target <= 100 ms)")
        sent, received, gap = asyncio.run(socket_burst(s, klass, instances))
        print(f"grid socket: {sent} results announced in {BURST_SECONDS} s -> {received} messages, "
              f"shortest gap {gap:.3f} s (target: at most one a second)")
        from django.conf import settings

        ms = limits_pass_ms(s, klass)
        print(f"limits pass over {STUDENTS} running instances: median {ms:.1f} ms, "
              f"{ms / 10 / settings.NODE_HEARTBEAT_SECONDS:.2f} % of one core at one pass per heartbeat "
              f"({settings.NODE_HEARTBEAT_SECONDS} s; target <= 1 %)")
        make_idle(instances)
        ms = limits_pass_ms(s, klass, IDLE_LIMIT)
        print(f"limits pass over {STUDENTS} instances idle by every sign but their cpu ({IDLE_LIMIT} s idle limit, "
              f"{IDLE_LIMIT} samples each): median {ms:.1f} ms, "
              f"{ms / 10 / settings.NODE_HEARTBEAT_SECONDS:.2f} % of one core (target <= 1 %)")
        ms = quiet_scan_ms(instances)
        print(f"cpu read of {STUDENTS} instances quiet all along ({IDLE_LIMIT} samples each, read once, in the pass "
              f"that suspends them): {ms:.1f} ms")


if __name__ == "__main__":
    main()
