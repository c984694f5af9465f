"""Container lifecycle.

The web side (this module) records the user's intent with a conditional status
change and queues a task on the container's node when the transaction commits;
the worker side (`dashboard.containers.node`, `*_on_node`) claims the work with
another conditional change, calls the runtime and mirrors its state. Because every change names the status it
expects, retries, redelivered tasks and reconciliation never undo each other.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from dashboard.accounts.roles import is_teacher
from dashboard.accounts.selectors import quota_for
from dashboard.containers import tasks
from dashboard.containers.events import event_record
from dashboard.containers.models import Container, Event
from dashboard.images.models import Image
from dashboard.networks.selectors import network_node_of
from dashboard.networks.services import PERSONAL, network_for_container
from dashboard.nodes.selectors import node_pick_for_launch

S = Container.Status
MiB = 1 << 20
# Quota-bound users who leave a limit blank get these, so a blank field cannot dodge the quota.
DEFAULT_MEMORY_BYTES = 256 * MiB
DEFAULT_CPUS = 0.5

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
    network=PERSONAL,
    app_ports: list[int] | None = None,
) -> Container:
    """Record a container and queue its launch on `node`, by default the
    least-loaded live one. `network`: the owner's personal network
    (PERSONAL, made on first use), None for none, or a Network they may use."""
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
    network = network_for_container(owner=owner, network=network)
    if Container.objects.filter(owner=owner, name=name).exclude(status=S.DELETED).exists():
        raise ValidationError({"name": f"You already have a container named {name}."})
    if node is None and image.base_id is not None:
        # A saved image lives only on the node that saved it: no upload exists to import it elsewhere.
        node = image.node
    if node is None and network is not None:
        node = network_node_of(network=network)
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
        network=network,
        app_ports=app_ports or [],
        status=S.QUEUED,
        status_detail="" if node.worker_alive else "queued: node offline",
    )
    event_record(container=container, kind=Event.Kind.CREATED, data={"node": node.name})
    _send(tasks.container_launch, container)
    return container


def _transition(container: Container, action: str, *, detail: str = "") -> None:
    """Move the container as `action` does (Container.ACTIONS), only from a status that allows it."""
    allowed, to = Container.ACTIONS[action]
    changed = Container.objects.filter(id=container.id, status__in=allowed).update(status=to, status_detail=detail)
    if not changed:
        raise ValidationError(f"Container {container.name} is {container.status}: it cannot be {to} now.")
    container.status, container.status_detail = to, detail


def _queued_detail(container: Container, detail: str) -> str:
    return detail if container.node.worker_alive else "queued: node offline"


@transaction.atomic
def container_start(*, container: Container) -> Container:
    _lock_owner(container.owner)
    _quota_check(user=container.owner, memory_bytes=container.memory_bytes, cpus=container.cpus, exclude_id=container.id)
    _transition(container, "start", detail=_queued_detail(container, "starting"))
    _send(tasks.container_launch, container)
    return container


@transaction.atomic
def container_restart(*, container: Container) -> Container:
    if container.status not in Container.ACTIVE:
        _lock_owner(container.owner)
        _quota_check(
            user=container.owner, memory_bytes=container.memory_bytes, cpus=container.cpus, exclude_id=container.id
        )
    _transition(container, "restart", detail=_queued_detail(container, "restarting"))
    _send(tasks.container_launch, container, restart=True)
    return container


@transaction.atomic
def container_stop(*, container: Container) -> Container:
    _transition(container, "stop")
    _send(tasks.container_stop, container)
    return container


@transaction.atomic
def container_delete(*, container: Container) -> Container:
    """Delete at once what never reached the runtime; otherwise let the node remove it."""
    never_launched = Container.objects.filter(id=container.id, status=S.QUEUED, runtime_id="")
    if never_launched.update(status=S.DELETED, status_detail="", finished_at=timezone.now()):
        container.status = S.DELETED
        event_record(container=container, kind=Event.Kind.DELETED)
        return container
    _transition(container, "delete")
    _send(tasks.container_delete, container)
    return container
