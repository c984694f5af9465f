"""Container lifecycle.

The web side records the user's intent with a conditional status change and
queues a task on the container's node when the transaction commits; the worker
side (`*_on_node`) claims the work with another conditional change, calls the
runtime and mirrors its state. Because every change names the status it
expects, retries, redelivered tasks and reconciliation never undo each other.
"""

import functools
import threading
from collections import defaultdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from dashboard.accounts.roles import is_teacher
from dashboard.accounts.selectors import quota_for
from dashboard.containers.models import Container, Event
from dashboard.images.models import Image
from dashboard.images.node import image_ensure_in_store
from dashboard.nodes.selectors import node_pick_for_launch

S = Container.Status
MiB = 1 << 20
# Quota-bound users who leave a limit blank get these, so a blank field cannot dodge the quota.
DEFAULT_MEMORY_BYTES = 256 * MiB
DEFAULT_CPUS = 0.5

_locks: dict[int, threading.Lock] = defaultdict(threading.Lock)


def _runtime():
    from runtime import settings as runtime_settings

    return _shared_runtime(str(settings.TERRARIUM_ROOT), runtime_settings.cgroup_parent())


@functools.cache
def _shared_runtime(root: str, cgroup_parent: str):
    """One Runtime per root for the process, so its forker is started once: shims
    forked from the worker itself would map and share its Django and Celery heap."""
    from runtime import Runtime

    return Runtime(root=root, cgroup_parent=cgroup_parent, forker=True)


def event_record(*, container: Container, kind: str, data: dict | None = None) -> Event:
    return Event.objects.create(container=container, kind=kind, data=data or {}, at=timezone.now())


def _send(task, container: Container, **kwargs) -> None:
    queue = container.node.queue
    transaction.on_commit(lambda: task.apply_async(args=[container.id], kwargs=kwargs, queue=queue))


def _quota_check(*, user, memory_bytes: int | None, cpus: float | None, exclude_id: int | None = None) -> None:
    quota = quota_for(user=user)
    if quota is None:
        return
    active = Container.objects.filter(owner=user, status__in=Container.ACTIVE).exclude(id=exclude_id)
    used = active.aggregate(memory=Sum("memory_bytes"), cpus=Sum("cpus"))
    if active.count() + 1 > quota.max_containers:
        raise ValidationError(f"Quota reached: at most {quota.max_containers} containers may run at once.")
    if (used["memory"] or 0) + (memory_bytes or 0) > quota.max_memory_bytes:
        free = max(quota.max_memory_bytes - (used["memory"] or 0), 0) // MiB
        raise ValidationError({"memory_limit": f"Memory quota exceeded: {free} MiB of your quota is left."})
    if (used["cpus"] or 0) + (cpus or 0) > quota.max_cpus + 1e-9:
        free = max(quota.max_cpus - (used["cpus"] or 0), 0)
        raise ValidationError({"cpu_limit": f"CPU quota exceeded: {free:g} cpus of your quota are left."})


def _per_container_limits(*, user, pids_limit: int | None, disk_bytes: int | None) -> tuple[int, int]:
    """Every container gets a pids and a disk limit: blank ones get the quota's
    (settings' for users without a quota), and a quota's are also the most one may ask for."""
    quota = quota_for(user=user)
    if quota is None:
        return pids_limit or settings.CONTAINER_DEFAULT_PIDS, disk_bytes or settings.CONTAINER_DEFAULT_DISK_BYTES
    if pids_limit and pids_limit > quota.pids_limit:
        raise ValidationError({"pids_limit": f"Your quota allows at most {quota.pids_limit} pids per container."})
    if disk_bytes and disk_bytes > quota.disk_bytes:
        raise ValidationError(
            {"disk_limit": f"Your quota allows at most {quota.disk_bytes // MiB} MiB of disk per container."}
        )
    return pids_limit or quota.pids_limit, disk_bytes or quota.disk_bytes


def _lock_owner(user) -> None:
    # Serializes one user's launches so two at once cannot both pass the quota check.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


@transaction.atomic
def container_create(
    *,
    owner,
    image: Image,
    name: str,
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
    hostname: str = "",
    memory_bytes: int | None = None,
    cpus: float | None = None,
    pids_limit: int | None = None,
    disk_bytes: int | None = None,
    userns: str = "auto",
    node=None,
) -> Container:
    """Record a container and queue its launch on `node`, by default the least-loaded live one."""
    from dashboard.containers.tasks import container_launch

    if image.status != Image.Status.READY:
        raise ValidationError({"image": f"Image {image.name} is {image.status}, not ready."})
    if userns != "auto" and not is_teacher(owner):
        raise ValidationError({"userns": "Only teachers may run a container with the host's ids."})
    pids_limit, disk_bytes = _per_container_limits(user=owner, pids_limit=pids_limit, disk_bytes=disk_bytes)
    if quota_for(user=owner) is not None:
        memory_bytes = memory_bytes or DEFAULT_MEMORY_BYTES
        cpus = cpus or DEFAULT_CPUS
    _lock_owner(owner)
    _quota_check(user=owner, memory_bytes=memory_bytes, cpus=cpus)
    if Container.objects.filter(owner=owner, name=name).exclude(status=S.DELETED).exists():
        raise ValidationError({"name": f"You already have a container named {name}."})
    node = node or node_pick_for_launch(cpus=cpus)
    if node is None:
        raise ValidationError("No node is registered yet: start a runtime worker first.")
    if cpus and cpus > node.cpus:
        raise ValidationError({"cpu_limit": f"Node {node.name} has only {node.cpus} cpus."})
    container = Container.objects.create(
        owner=owner,
        image=image,
        node=node,
        name=name,
        command=command or [],
        env=env or {},
        hostname=hostname,
        memory_bytes=memory_bytes,
        cpus=cpus,
        pids_limit=pids_limit,
        disk_bytes=disk_bytes,
        userns=userns,
        status=S.QUEUED,
        status_detail="" if node.worker_alive else "queued: node offline",
    )
    event_record(container=container, kind=Event.Kind.CREATED, data={"node": node.name})
    _send(container_launch, container)
    return container


def _transition(container: Container, *, allowed, to: str, detail: str = "") -> None:
    changed = Container.objects.filter(id=container.id, status__in=allowed).update(status=to, status_detail=detail)
    if not changed:
        raise ValidationError(f"Container {container.name} is {container.status}: it cannot be {to} now.")
    container.status, container.status_detail = to, detail


def _queued_detail(container: Container, detail: str) -> str:
    return detail if container.node.worker_alive else "queued: node offline"


@transaction.atomic
def container_start(*, container: Container) -> Container:
    from dashboard.containers.tasks import container_launch

    _lock_owner(container.owner)
    _quota_check(user=container.owner, memory_bytes=container.memory_bytes, cpus=container.cpus, exclude_id=container.id)
    _transition(container, allowed=[S.EXITED, S.CREATED, S.FAILED], to=S.QUEUED, detail=_queued_detail(container, "starting"))
    _send(container_launch, container)
    return container


@transaction.atomic
def container_restart(*, container: Container) -> Container:
    from dashboard.containers.tasks import container_launch

    if container.status not in Container.ACTIVE:
        _lock_owner(container.owner)
        _quota_check(
            user=container.owner, memory_bytes=container.memory_bytes, cpus=container.cpus, exclude_id=container.id
        )
    allowed = [S.RUNNING, S.PAUSED, S.EXITED, S.CREATED, S.FAILED]
    _transition(container, allowed=allowed, to=S.QUEUED, detail=_queued_detail(container, "restarting"))
    _send(container_launch, container, restart=True)
    return container


@transaction.atomic
def container_stop(*, container: Container) -> Container:
    from dashboard.containers.tasks import container_stop as stop_task

    _transition(container, allowed=[S.RUNNING, S.PAUSED], to=S.STOPPING)
    _send(stop_task, container)
    return container


@transaction.atomic
def container_delete(*, container: Container) -> Container:
    """Delete at once what never reached the runtime; otherwise let the node remove it."""
    from dashboard.containers.tasks import container_delete as delete_task

    never_launched = Container.objects.filter(id=container.id, status=S.QUEUED, runtime_id="")
    if never_launched.update(status=S.DELETED, status_detail="", finished_at=timezone.now()):
        container.status = S.DELETED
        event_record(container=container, kind=Event.Kind.DELETED)
        return container
    allowed = [s for s in S.values if s not in (S.DELETED, S.DELETING)]
    _transition(container, allowed=allowed, to=S.DELETING)
    _send(delete_task, container)
    return container


# ---- worker side: runs as root on the container's node ----


def _config(container: Container):
    from runtime import ContainerConfig

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
    )


def _mark(container_id: int, *, expect, **fields) -> bool:
    return bool(Container.objects.filter(id=container_id, status=expect).update(**fields))


def _bring_up(rt, container: Container, *, restart: bool):
    from runtime import NotFound

    try:
        state = rt.get(container.runtime_name)
    except NotFound:
        image_ensure_in_store(image=container.image)
        return rt.run(_config(container))
    if state.status in ("running", "paused"):
        return rt.restart(container.runtime_name, timeout=settings.CONTAINER_STOP_SECONDS) if restart else state
    # An exited container starts again in the same filesystem, as `docker start` does.
    return rt.start(container.runtime_name)


def container_launch_on_node(*, container_id: int, restart: bool = False) -> None:
    """Bring a queued container up in the runtime: run it, start it again or restart it."""
    from runtime import TerrariumError

    with _locks[container_id]:
        if not _mark(container_id, expect=S.QUEUED, status=S.STARTING, status_detail=""):
            return
        container = Container.objects.select_related("image", "owner", "node").get(id=container_id)
        rt = _runtime()
        try:
            state = _bring_up(rt, container, restart=restart)
        except TerrariumError as exc:
            if _mark(container_id, expect=S.STARTING, status=S.FAILED, status_detail=str(exc)[:200]):
                event_record(container=container, kind=Event.Kind.FAILED, data={"error": str(exc)})
            return
        now = timezone.now()
        if _mark(
            container_id,
            expect=S.STARTING,
            status=S.RUNNING,
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
            state = _runtime().stop(container.runtime_name, timeout=settings.CONTAINER_STOP_SECONDS)
            exit_code, oom = state.exit_code, bool(state.oom_killed)
        except NotFound:
            exit_code, oom = None, False
        if _mark(
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
            _runtime().delete(container.runtime_name, force=True)
        except NotFound:
            pass
        if _mark(container_id, expect=S.DELETING, status=S.DELETED, finished_at=timezone.now()):
            event_record(container=container, kind=Event.Kind.DELETED)


GONE = "gone from the runtime"


def _record_exit(container: Container, state) -> None:
    exit_code = getattr(state, "exit_code", None)
    oom = bool(getattr(state, "oom_killed", False))
    finished = timezone.now()
    if _mark(
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
    from dashboard.containers import tasks

    mine = Container.objects.filter(node__name=node_name).select_related("node")
    # Rows first, runtime second: a launch finishing in between must not look vanished.
    # Only rows the runtime acknowledged (they carry its id) are the runtime's to judge.
    settled = list(mine.filter(status__in=[S.RUNNING, S.PAUSED]).exclude(runtime_id=""))
    exited = list(mine.filter(status=S.EXITED).exclude(runtime_id="").exclude(status_detail=GONE))
    states = {s.name: s for s in _runtime().list(all=True)}
    for container in settled:
        state = states.get(container.runtime_name)
        if state is None or state.status in ("exited", "created"):
            _record_exit(container, state)
        elif state.status != container.status:
            _mark(container.id, expect=container.status, status=state.status)
    for container in exited:
        # Removed behind our back, its files are gone (Start makes it anew): say so.
        if container.runtime_name not in states:
            _mark(container.id, expect=S.EXITED, status=S.EXITED, status_detail=GONE)
    if not worker_restarted:
        return
    for container in mine.filter(status=S.STARTING):
        if _mark(container.id, expect=S.STARTING, status=S.QUEUED):
            tasks.container_launch.apply_async(args=[container.id], queue=container.node.queue)
    for container in mine.filter(status__in=[S.STOPPING, S.DELETING, S.QUEUED]):
        task = {S.STOPPING: tasks.container_stop, S.DELETING: tasks.container_delete}.get(
            container.status, tasks.container_launch
        )
        task.apply_async(args=[container.id], queue=container.node.queue)
