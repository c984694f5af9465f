"""Reads of containers, always through the viewer's permissions: a student
sees only their own containers, a teacher or admin sees all of them."""

from django.http import Http404

from dashboard.accounts.roles import is_teacher
from dashboard.containers.models import Container


def containers_visible_to(*, user):
    qs = Container.objects.select_related("image", "node", "owner", "network")
    if not user.is_authenticated:
        return qs.none()
    return qs if is_teacher(user) else qs.filter(owner=user)


def containers_listed_for(*, user):
    """The home page's list: what the user may see, without deleted containers."""
    return containers_visible_to(user=user).exclude(status=Container.Status.DELETED)


def container_rows_for(*, user) -> list[dict]:
    """The home page's rows, as plain values: a class of 200 containers renders
    in a few milliseconds (model instances and per-row URL reversing cost ~10x)."""
    # Here: the URLconf and the template tags import the views, which import these selectors.
    from django.urls import reverse

    from dashboard.containers.templatetags.terrarium import limits_text

    detail = reverse("containers:detail", args=[0]).replace("/0/", "/{}/")
    rows = containers_listed_for(user=user).values_list(
        "id", "name", "image__name", "status", "status_detail", "node__name", "owner__username", "created_at",
        "memory_bytes", "cpus", "pids_limit", "disk_bytes",
    )
    return [
        {
            "id": cid, "name": name, "image": image, "status": status, "detail": note, "node": node or "—",
            "owner": owner, "created": created.strftime("%Y-%m-%d %H:%M"), "created_iso": created.isoformat(),
            "limits": limits_text(memory, cpus, pids, disk), "url": detail.format(cid),
        }
        for cid, name, image, status, note, node, owner, created, memory, cpus, pids, disk in rows
    ]


def container_get_for_user(*, user, container_id) -> Container:
    """The container, or Http404 when it does not exist or is not the user's to see."""
    try:
        return containers_visible_to(user=user).get(pk=int(container_id))
    except (Container.DoesNotExist, ValueError, TypeError):
        raise Http404("No such container") from None


def container_status(*, container: Container) -> dict:
    return {
        "id": container.id,
        "status": container.status,
        "detail": container.status_detail,
        "exit_code": container.exit_code,
        "oom_killed": container.oom_killed,
        "actions": container.lifecycle_actions,
        # Paused: a lab suspended while idle, which its student's shell resumes.
        "shell": container.can("shell") or container.status == Container.Status.PAUSED,
    }


def container_statuses(*, user) -> list[dict]:
    rows = containers_listed_for(user=user).select_related(None)
    return [container_status(container=c) for c in rows.only("status", "status_detail", "exit_code", "oom_killed")]
