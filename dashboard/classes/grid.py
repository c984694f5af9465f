"""The teacher's grid of a class: a row per enrolled student, a cell per step
(pending, passed with time and attempts, failed with the count and the last
message, error), the instance's state, idle time and memory and cpu
sparklines (dashboard.classes.sparklines) at the row's end, and
per step the share passed and the median time. A few queries whatever the
class's size; check outputs are read one at a time (cell_output)."""

from datetime import timedelta
from statistics import median

from django.db.models import Count, Max, Q
from django.utils import timezone

from dashboard.classes.activity import KEY_TTL as INPUT_KEY_TTL, last_inputs
from dashboard.classes.models import Class, HintSeen
from dashboard.classes.sparklines import sparklines
from dashboard.containers.models import Container
from dashboard.labs.models import CheckRun, LabInstance
from dashboard.shell.models import ShellSession
from dashboard.shell.selectors import check_recording_url

PENDING, PASSED, FAILED, ERROR = "pending", "passed", "failed", "error"
C, I = Container.Status, LabInstance.Status
CONTAINER_STATES = {
    C.QUEUED: "starting", C.STARTING: "starting", C.RUNNING: "running", C.PAUSED: "suspended",
    C.STOPPING: "stopped", C.EXITED: "stopped", C.CREATED: "stopped", C.DELETING: "stopped", C.DELETED: "stopped",
    C.FAILED: "failed",
}


def instance_state(instance: LabInstance | None) -> str:
    """not started, starting, running, suspended, stopped or failed."""
    if instance is None:
        return "not started"
    if instance.status in (I.CREATING, I.SETTING_UP):
        return "starting"
    if instance.status == I.FAILED or instance.container is None:
        return "failed"
    return CONTAINER_STATES.get(instance.container.status, "stopped")


def _cell(step_id: str, runs: list[dict], started_at) -> dict:
    """Runs oldest first: a step once passed stays passed, as on the student's page."""
    cell = {"step": step_id, "state": PENDING, "attempts": 0, "failures": 0, "message": "", "seconds": None,
            "passed_at": None}
    for run in runs:
        cell["attempts"] += 1
        cell["failures"] += run["state"] == FAILED
        if cell["state"] == PASSED:
            continue
        cell["state"], cell["message"] = run["state"], run["message"]
        if run["state"] == PASSED:
            cell["passed_at"] = run["requested_at"]
            cell["seconds"] = max(0, round((run["requested_at"] - started_at).total_seconds())) if started_at else None
            cell["message"] = ""
    return cell


def last_activity(instances) -> dict[int, object]:
    """Per instance: its newest of made, ready, a check asked for, a shell
    opened, input typed in a shell (three queries and one Redis read)."""
    container_ids = [i.container_id for i in instances if i.container_id]
    shells = dict(ShellSession.objects.filter(container_id__in=container_ids).values("container_id")
                  .annotate(last=Max("opened_at")).values_list("container_id", "last"))
    recent = timezone.now() - timedelta(seconds=INPUT_KEY_TTL)
    containers = dict(ShellSession.objects.filter(Q(closed_at__isnull=True) | Q(closed_at__gte=recent),
                                                  container_id__in=container_ids).values_list("key", "container_id"))
    typed: dict[int, object] = {}
    for key, at in last_inputs(list(containers)).items():
        typed[containers[key]] = max(at, typed.get(containers[key], at))
    checks = dict(CheckRun.objects.filter(instance__in=instances).values("instance_id")
                  .annotate(last=Max("requested_at")).values_list("instance_id", "last"))
    return {i.pk: max(t for t in (i.created_at, i.ready_at, shells.get(i.container_id), typed.get(i.container_id),
                                  checks.get(i.pk)) if t)
            for i in instances}


def class_grid(*, klass: Class) -> dict:
    steps = klass.lab.steps
    enrolments = list(klass.enrolments.select_related("student").order_by("student__username"))
    instances = {i.student_id: i for i in LabInstance.objects.filter(
        lab_id=klass.lab_id, student_id__in=[e.student_id for e in enrolments]).select_related("container")}
    runs_by_instance: dict[int, list[dict]] = {}
    for run in (CheckRun.objects.filter(instance_id__in=[i.pk for i in instances.values()], state__in=CheckRun.FINISHED)
                .order_by("requested_at", "id").values("instance_id", "step_id", "state", "requested_at", "message")):
        runs_by_instance.setdefault(run["instance_id"], []).append(run)
    hints = {(row["instance_id"], row["step_id"]): row["n"] for row in HintSeen.objects.filter(
        instance_id__in=[i.pk for i in instances.values()]).values("instance_id", "step_id").annotate(n=Count("id"))}
    activity = last_activity(list(instances.values()))
    now = timezone.now()
    lines = sparklines([i.container_id for i in instances.values()
                        if i.container_id and instance_state(i) in ("running", "suspended")], now.timestamp())
    rows = []
    for enrolment in enrolments:
        instance = instances.get(enrolment.student_id)
        runs = runs_by_instance.get(instance.pk, []) if instance else []
        by_step: dict[str, list[dict]] = {}
        for run in runs:
            by_step.setdefault(run["step_id"], []).append(run)
        started_at = instance and (instance.ready_at or instance.created_at)
        state = instance_state(instance)
        idle = None
        if instance is not None and state in ("running", "suspended"):
            idle = max(0, round((now - activity[instance.pk]).total_seconds()))
        rows.append({
            "student_id": enrolment.student_id,
            "username": enrolment.student.username,
            "name": enrolment.student.get_full_name(),
            "email": enrolment.student.email,
            "instance_id": instance.pk if instance else None,
            "instance_state": state,
            "idle_seconds": idle,
            "spark": lines.get(instance.container_id) if instance else None,
            "hand_raised": enrolment.hand_raised_at is not None,
            "cells": [{**_cell(step["id"], by_step.get(step["id"], []), started_at),
                       "hints": hints.get((instance.pk, step["id"]), 0) if instance else 0} for step in steps],
        })
    columns = []
    for index, step in enumerate(steps):
        times = [row["cells"][index]["seconds"] for row in rows if row["cells"][index]["state"] == PASSED]
        passed = len(times)
        known = [t for t in times if t is not None]
        columns.append({
            "step": step["id"], "title": step["title"], "points": step["check"]["points"],
            "passed": passed, "share": round(100 * passed / len(rows)) if rows else 0,
            "median_seconds": round(median(known)) if known else None,
        })
    return {"columns": columns, "rows": rows}


def cell_output(*, klass: Class, student_id, step_id: str) -> dict | None:
    """The last finished check of a student's step in this class: its state, message, output and time."""
    run = (CheckRun.objects.filter(instance__lab_id=klass.lab_id, instance__student__enrolments__klass=klass,
                                   instance__student_id=student_id, step_id=step_id, state__in=CheckRun.FINISHED)
           .order_by("-requested_at", "-id").first())
    if run is None:
        return None
    return {"state": run.state, "message": run.message, "output": run.output, "exit_code": run.exit_code,
            "truncated": run.truncated, "at": run.requested_at.isoformat(), "duration": run.duration,
            "recording": check_recording_url(run=run)}
