"""Container lifecycle, the worker's side: runs as root on the container's node.

Each `*_on_node` function is what a task of `dashboard.containers.tasks` runs:
it takes an id, claims the work with a conditional status change (so a
redelivered task does nothing twice), calls the runtime and mirrors its state.
"""

import contextlib
import functools
import threading
from collections import defaultdict

from celery import current_app
from django.conf import settings
from django.utils import timezone

from dashboard.containers.events import event_record
from dashboard.containers.models import Container, Event
from dashboard.images.node import image_ensure_in_store
from dashboard.networks.node import network_held_on_node, network_release_on_node

S = Container.Status
_locks: dict[int, threading.Lock] = defaultdict(threading.Lock)


def node_runtime():
    """This node's Runtime, for what the worker runs (containers, checks)."""
    from runtime import settings as runtime_settings

    return shared_runtime(str(settings.TERRARIUM_ROOT), runtime_settings.cgroup_parent())


@functools.cache
def shared_runtime(root: str, cgroup_parent: str):
    """One Runtime per root for the process, so its forker is started once: shims
    forked from the worker itself would map and share its Django and Celery heap."""
    from runtime import Runtime

    return Runtime(root=root, cgroup_parent=cgroup_parent, forker=True)


def _config(container: Container, network):
    from runtime import ContainerConfig

    on_network = {} if network is None else {"network": network.runtime_name, "network_aliases": [container.name]}
    return ContainerConfig(
        image=container.image.store_name,
        name=container.runtime_name,
        command=container.command or None,
        env=container.env,
        hostname=container.hostname or None,
        memory_bytes=container.memory_bytes,
        cpus=container.cpus,
        pids_limit=container.pids_limit,
        disk_bytes=container.disk_bytes,
        userns=container.userns,
        labels={"terrarium.container": str(container.id), "terrarium.owner": container.owner.username},
        **on_network,
    )


def claim(container_id: int, *, expect, **fields) -> bool:
    """Move the container from status `expect`, only if it is still there: of two
    workers running the same task, one claims it and the other does nothing."""
    return bool(Container.objects.filter(id=container_id, status=expect).update(**fields))


def _network_held(container: Container):
    if container.network_id is None:
        return contextlib.nullcontext()
    # Held from the network's make until the runtime has leased the container
    # its address on it: the node's removal of a network without containers
    # (networks.node.network_release_on_node, a delete's or the heartbeat's,
    # in this same worker process) waits on this lock, so it never removes
    # the network between the two, and afterwards the lease keeps it.
    return network_held_on_node(network_id=container.network_id)


def _bring_up(rt, container: Container, *, restart: bool):
    from runtime import NotFound

    try:
        state = rt.get(container.runtime_name)
    except NotFound:
        state = None
        # Before the network is held: an import may take a while.
        image_ensure_in_store(image=container.image)
    with _network_held(container) as network:
        if state is None:
            # Siblings find it by its dashboard name: an alias on its network.
            return rt.run(_config(container, network))
        if state.status in ("running", "paused"):
            return rt.restart(container.runtime_name, timeout=settings.CONTAINER_STOP_SECONDS) if restart else state
        # An exited container starts again in the same filesystem, as `docker start` does.
        return rt.start(container.runtime_name)


def _address(rt, container: Container) -> str:
    """Its address on its network as the runtime records it ("" on none or once gone)."""
    from runtime import TerrariumError

    try:
        return rt.inspect(container.runtime_name)["network"]["ip"] or ""
    except TerrariumError:
        return ""


def container_launch_on_node(*, container_id: int, restart: bool = False) -> None:
    """Bring a queued container up in the runtime: run it, start it again or restart it."""
    from runtime import TerrariumError

    with _locks[container_id]:
        if not claim(container_id, expect=S.QUEUED, status=S.STARTING, status_detail=""):
            return
        container = Container.objects.select_related("image", "owner", "node").get(id=container_id)
        rt = node_runtime()
        try:
            state = _bring_up(rt, container, restart=restart)
        except TerrariumError as exc:
            if claim(container_id, expect=S.STARTING, status=S.FAILED, status_detail=str(exc)[:200]):
                event_record(container=container, kind=Event.Kind.FAILED, data={"error": str(exc)})
            return
        now = timezone.now()
        if claim(
            container_id,
            expect=S.STARTING,
            status=S.RUNNING,
            ip_address=_address(rt, container),
            runtime_id=state.id,
            started_at=now,
            finished_at=None,
            exit_code=None,
            oom_killed=False,
        ):
            event_record(container=container, kind=Event.Kind.STARTED, data={"pid": state.pid})


def container_stop_on_node(*, container_id: int) -> None:
    from runtime import NotFound

    with _locks[container_id]:
        container = Container.objects.filter(id=container_id, status=S.STOPPING).first()
        if container is None:
            return
        try:
            state = node_runtime().stop(container.runtime_name, timeout=settings.CONTAINER_STOP_SECONDS)
            exit_code, oom = state.exit_code, bool(state.oom_killed)
        except NotFound:
            exit_code, oom = None, False
        if claim(
            container_id, expect=S.STOPPING, status=S.EXITED, exit_code=exit_code, oom_killed=oom,
            finished_at=timezone.now(),
        ):
            event_record(container=container, kind=Event.Kind.STOPPED, data={"exit_code": exit_code})


def container_delete_on_node(*, container_id: int) -> None:
    from runtime import NotFound

    with _locks[container_id]:
        container = Container.objects.filter(id=container_id, status=S.DELETING).first()
        if container is None:
            return
        try:
            node_runtime().delete(container.runtime_name, force=True)
        except NotFound:
            pass
        if claim(container_id, expect=S.DELETING, status=S.DELETED, finished_at=timezone.now()):
            event_record(container=container, kind=Event.Kind.DELETED)
    if container.network_id is not None:
        # Its network leaves the node with its last container there (the heartbeat's sweep retries).
        network_release_on_node(network_id=container.network_id)


GONE = "gone from the runtime"


def _record_exit(container: Container, state) -> None:
    exit_code = getattr(state, "exit_code", None)
    oom = bool(getattr(state, "oom_killed", False))
    finished = timezone.now()
    if claim(
        container.id, expect=container.status, status=S.EXITED, exit_code=exit_code, oom_killed=oom,
        finished_at=finished, status_detail="" if state else GONE,
    ):
        if oom:
            event_record(container=container, kind=Event.Kind.OOM)
        event_record(container=container, kind=Event.Kind.EXITED, data={"exit_code": exit_code, "oom_killed": oom})


def containers_reconcile_node(*, node_name: str, worker_restarted: bool = False) -> None:
    """Make the rows of this node's containers say what the runtime says.

    Settled containers (running, paused) that exited or vanished become exited.
    After a worker restart, work that was in flight is queued again: no task of
    this node can be running at that moment."""
    mine = Container.objects.filter(node__name=node_name).select_related("node")
    # Rows first, runtime second: a launch finishing in between must not look vanished.
    # Only rows the runtime acknowledged (they carry its id) are the runtime's to judge.
    settled = list(mine.filter(status__in=[S.RUNNING, S.PAUSED]).exclude(runtime_id=""))
    exited = list(mine.filter(status=S.EXITED).exclude(runtime_id="").exclude(status_detail=GONE))
    states = {s.name: s for s in node_runtime().list(all=True)}
    for container in settled:
        state = states.get(container.runtime_name)
        if state is None or state.status in ("exited", "created"):
            _record_exit(container, state)
        elif state.status != container.status:
            claim(container.id, expect=container.status, status=state.status, status_detail="")
    for container in exited:
        # Removed behind our back, its files are gone (Start makes it anew): say so.
        if container.runtime_name not in states:
            claim(container.id, expect=S.EXITED, status=S.EXITED, status_detail=GONE)
    if not worker_restarted:
        return
    for container in mine.filter(status=S.STARTING):
        if claim(container.id, expect=S.STARTING, status=S.QUEUED):
            _requeue("container_launch", container)
    for container in mine.filter(status__in=[S.STOPPING, S.DELETING, S.QUEUED]):
        _requeue({S.STOPPING: "container_stop", S.DELETING: "container_delete"}.get(container.status, "container_launch"),
                 container)


def _requeue(task: str, container: Container) -> None:
    # By name: the tasks module calls this one, and must not be imported by it.
    current_app.send_task(f"dashboard.containers.tasks.{task}", args=[container.id], queue=container.node.queue)
