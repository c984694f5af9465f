"""Reads of labs through the viewer's permissions. A teacher sees their own
labs and those shared with teachers (an admin all); a student sees assigned
labs and only their own instances: another student's is a 404."""

from datetime import timedelta

from django.db.models import Count, Max, Q
from django.dispatch import Signal
from django.http import Http404
from django.utils import timezone

from dashboard.accounts.roles import is_admin, is_teacher
from dashboard.containers.models import Container
from dashboard.labs.markdown import render_markdown
from dashboard.labs.models import CheckRun, Lab, LabInstance
from dashboard.labs.params import param_values
from dashboard.labs.substitute import substitute

STUDENT_ERROR = "The check is broken: your teacher can see why."
PENDING, PASSED = "pending", "passed"
# Sent with instance= and shown= {step id: hints on the page} when a view is made for the instance's student.
hints_shown = Signal()


def labs_visible_to(*, user):
    qs = Lab.objects.select_related("owner", "image")
    if not user.is_authenticated:
        return qs.none()
    if is_admin(user):
        return qs
    enrolled = Q(classes__enrolments__student=user)
    if is_teacher(user):
        return qs.filter(Q(owner=user) | Q(shared_with_teachers=True) | Q(assigned_to_all=True) | enrolled).distinct()
    return qs.filter(Q(assigned_to_all=True) | enrolled).distinct()


def lab_get_for_user(*, user, lab_id) -> Lab:
    try:
        return labs_visible_to(user=user).get(pk=int(lab_id))
    except (Lab.DoesNotExist, ValueError, TypeError):
        raise Http404("No such lab") from None


def lab_managed_by(*, lab: Lab, user) -> bool:
    """Whether `user` may see the lab's instances, setup output and check errors."""
    return is_admin(user) or lab.owner_id == user.pk or (is_teacher(user) and lab.shared_with_teachers)


def lab_instance_get_for_user(*, user, instance_id) -> LabInstance:
    """The instance, for its student or a teacher who manages its lab; Http404 for anyone else."""
    qs = LabInstance.objects.select_related("lab", "lab__owner", "student", "container", "container__node")
    try:
        instance = qs.get(pk=int(instance_id))
    except (LabInstance.DoesNotExist, ValueError, TypeError):
        raise Http404("No such lab instance") from None
    if user.is_authenticated and (instance.student_id == user.pk or lab_managed_by(lab=instance.lab, user=user)):
        return instance
    raise Http404("No such lab instance")


def lab_instance_of(*, lab: Lab, student) -> LabInstance | None:
    return LabInstance.objects.select_related("container", "container__node").filter(lab=lab, student=student).first()


def lab_values(*, lab: Lab, student_id: int) -> dict[str, str]:
    return param_values(params=lab.definition["params"], secret=bytes(lab.secret), student_id=student_id)


def _unlocked(hint: dict, *, ready_at, failures: int, now) -> bool:
    if hint["after_failures"] and failures < hint["after_failures"]:
        return False
    return not hint["after_seconds"] or (ready_at is not None and now >= ready_at + timedelta(seconds=hint["after_seconds"]))


def _hint_unlock_at(hint: dict, ready_at):
    if not hint["after_seconds"] or ready_at is None:
        return None
    return ready_at + timedelta(seconds=hint["after_seconds"])


def _run_summaries(instance: LabInstance) -> dict[str, dict]:
    """Per step, in two queries whatever the number of runs: failures so far,
    whether one is in flight, and the run to show (the last passed one, or
    else the last finished one)."""
    S = CheckRun.State
    rows = (
        CheckRun.objects.filter(instance=instance).order_by().values("step_id").annotate(
            failures=Count("id", filter=Q(state=S.FAILED)),
            in_flight=Count("id", filter=Q(state__in=[S.QUEUED, S.RUNNING])),
            last_passed=Max("id", filter=Q(state=S.PASSED)),
            last_finished=Max("id", filter=Q(state__in=CheckRun.FINISHED)),
        )
    )
    summaries = {row["step_id"]: row for row in rows}
    shown = CheckRun.objects.in_bulk([r["last_passed"] or r["last_finished"] for r in summaries.values()
                                      if r["last_passed"] or r["last_finished"]])
    for row in summaries.values():
        row["shown"] = shown.get(row["last_passed"] or row["last_finished"])
    return summaries


def step_view(*, instance: LabInstance, step: dict, summary: dict | None, values: dict, manager: bool) -> dict:
    """What a page shows of one step: its state (passed once any run passed),
    the shown run's message and output, whether a check is in flight, the
    hints unlocked so far and when the next one unlocks."""
    summary = summary or {"failures": 0, "in_flight": 0, "last_passed": None, "shown": None}
    failures, last = summary["failures"], summary["shown"]
    now = timezone.now()
    hints, next_unlock = [], None
    for hint in step["hints"]:
        if _unlocked(hint, ready_at=instance.ready_at, failures=failures, now=now):
            hints.append(render_markdown(substitute(hint["text"], values)))
        elif failures >= hint["after_failures"] and (at := _hint_unlock_at(hint, instance.ready_at)):
            next_unlock = min(next_unlock or at, at)
    message, output = "", ""
    if last is not None:
        hidden = last.state == CheckRun.State.ERROR and not manager
        message = STUDENT_ERROR if hidden else last.message
        output = "" if hidden else last.output
    return {
        "id": step["id"],
        "state": last.state if last else PENDING,
        "running": bool(summary["in_flight"]),
        "message": message,
        "output": output,
        "truncated": bool(last and last.truncated and output),
        "exit_code": last.exit_code if last and manager else None,
        "hints": hints,
        "next_hint_at": next_unlock.isoformat() if next_unlock else None,
    }


def lab_instance_view(*, instance: LabInstance, user, step_id: str | None = None) -> dict:
    """The instance's status, progress and steps (or only `step_id`'s) as `user` may see them."""
    lab = instance.lab
    manager = instance.student_id != user.pk and lab_managed_by(lab=lab, user=user)
    values = lab_values(lab=lab, student_id=instance.student_id)
    summaries = _run_summaries(instance)
    steps = [
        step_view(instance=instance, step=step, summary=summaries.get(step["id"]), values=values, manager=manager)
        for step in lab.steps
    ]
    passed = [view for view in steps if view["state"] == PASSED]
    points = {step["id"]: step["check"]["points"] for step in lab.steps}
    view = {
        "instance": instance.pk,
        "status": instance.status,
        "container": instance.container_id,
        "progress": {"passed": len(passed), "total": len(steps),
                     "points": sum(points[v["id"]] for v in passed), "max_points": sum(points.values())},
        "steps": [v for v in steps if step_id is None or v["id"] == step_id],
    }
    if manager:
        view["setup_output"] = instance.setup_output
    if instance.student_id == user.pk:
        hints_shown.send(sender=LabInstance, instance=instance, shown={v["id"]: len(v["hints"]) for v in view["steps"]})
    return view


def lab_texts(*, lab: Lab, student_id: int) -> dict:
    """The lab's description and each step's text as HTML, with the student's params."""
    values = lab_values(lab=lab, student_id=student_id)
    return {
        "description": render_markdown(substitute(lab.definition["description"], values)),
        "steps": {step["id"]: render_markdown(substitute(step["text"], values)) for step in lab.steps},
    }


def lab_instances_for_teacher(*, lab: Lab) -> list[dict]:
    """Every student's instance of the lab with its progress (the teacher's table)."""
    rows = []
    passed_steps = {}
    for instance_id, step_id in CheckRun.objects.filter(instance__lab=lab, state=CheckRun.State.PASSED).values_list(
        "instance_id", "step_id"
    ).distinct():
        passed_steps.setdefault(instance_id, set()).add(step_id)
    for instance in LabInstance.objects.filter(lab=lab).select_related("student", "container").order_by("student__username"):
        rows.append({"instance": instance, "passed": len(passed_steps.get(instance.pk, ())), "total": len(lab.steps)})
    return rows


def suspended_instance(*, container, student) -> LabInstance | None:
    """`student`'s own lab instance in `container` while its class has it
    suspended (dashboard.classes: its student's return resumes it), else None."""
    if container.status != Container.Status.PAUSED or container.owner_id != student.pk or container.node_id is None:
        return None
    return LabInstance.objects.filter(container=container, student=student).first()
