"""The labs' JSON API under /api/, for the session (with its CSRF token) or a
personal token (`Authorization: Bearer trm_...`, no CSRF: no cookie is
involved). Same checks as the pages: another user's lab or instance is a 404."""

import functools

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from dashboard.labs import services
from dashboard.labs.labfile import LabInvalid, lab_points
from dashboard.labs.models import CheckRun
from dashboard.labs.selectors import (
    STUDENT_ERROR,
    lab_get_for_user,
    lab_instance_get_for_user,
    lab_instance_of,
    lab_instance_view,
    lab_instances_for_teacher,
    lab_managed_by,
    labs_visible_to,
)
from dashboard.labs.tokens import api_token_user

MAX_RUNS = 200


def _error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _csrf_refusal(request):
    check = CsrfViewMiddleware(lambda r: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


def api_view(*methods):
    """Authenticates by token or session, allows `methods`, turns refusals into JSON."""

    def wrap(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            header = request.headers.get("Authorization", "")
            if header.startswith("Bearer "):
                user = api_token_user(token=header[len("Bearer "):].strip())
                if user is None:
                    return _error(401, "The token is not valid.")
                request.user = user
            elif not request.user.is_authenticated:
                return _error(401, "Log in or send a personal token.")
            elif request.method not in ("GET", "HEAD") and _csrf_refusal(request) is not None:
                return _error(403, "CSRF check failed: send the csrftoken cookie's value as X-CSRFToken.")
            if request.method not in methods:
                return _error(405, f"Use {' or '.join(methods)}.")
            try:
                return view(request, *args, **kwargs)
            except Http404 as exc:
                return _error(404, str(exc) or "Not found.")
            except PermissionDenied as exc:
                return _error(403, str(exc) or "Not allowed.")
            except ValidationError as exc:
                return _error(409, " ".join(exc.messages))

        return wrapped

    return wrap


def _lab_json(lab, user) -> dict:
    managed = lab_managed_by(lab=lab, user=user)
    return {
        "id": lab.pk, "title": lab.title, "image": lab.image.name, "owner": lab.owner.username,
        "assigned_to_all": lab.assigned_to_all, "points": lab_points(lab.definition),
        "steps": [{"id": s["id"], "title": s["title"], "points": s["check"]["points"]} for s in lab.steps],
        "managed": managed,
        **({"self_test": lab.self_test} if managed else {}),
    }


@api_view("GET", "POST")
def labs(request):
    if request.method == "GET":
        return JsonResponse({"labs": [_lab_json(lab, request.user) for lab in labs_visible_to(user=request.user)]})
    upload = request.FILES.get("lab_file")
    if upload is None:
        return _error(400, "Send the lab file as the multipart field lab_file.")
    try:
        lab = services.lab_import(owner=request.user, upload=upload)
    except LabInvalid as exc:
        return _error(400, "The lab file is not valid.",
                      errors=[{"line": e.line, "message": e.message} for e in exc.errors])
    return JsonResponse(_lab_json(lab, request.user), status=201)


@api_view("GET")
def lab(request, lab_id):
    return JsonResponse(_lab_json(lab_get_for_user(user=request.user, lab_id=lab_id), request.user))


@api_view("POST")
def lab_assign(request, lab_id):
    found = lab_get_for_user(user=request.user, lab_id=lab_id)
    return JsonResponse(_lab_json(services.lab_assign_all(lab=found, teacher=request.user), request.user))


@api_view("GET", "POST")
def lab_instances(request, lab_id):
    """GET: every student's instance (the lab's teachers) ; POST: start one's own."""
    found = lab_get_for_user(user=request.user, lab_id=lab_id)
    if request.method == "POST":
        instance = services.lab_instance_start(lab=found, student=request.user)
        return JsonResponse(lab_instance_view(instance=instance, user=request.user), status=202)
    if not lab_managed_by(lab=found, user=request.user):
        own = lab_instance_of(lab=found, student=request.user)
        rows = [own] if own else []
        return JsonResponse({"instances": [lab_instance_view(instance=i, user=request.user) for i in rows]})
    rows = lab_instances_for_teacher(lab=found)
    return JsonResponse({"instances": [
        {"instance": r["instance"].pk, "student": r["instance"].student.username, "status": r["instance"].status,
         "passed": r["passed"], "total": r["total"]} for r in rows
    ]})


@api_view("GET")
def instance(request, instance_id):
    found = lab_instance_get_for_user(user=request.user, instance_id=instance_id)
    return JsonResponse(lab_instance_view(instance=found, user=request.user))


@api_view("POST")
def instance_check(request, instance_id, step_id):
    found = lab_instance_get_for_user(user=request.user, instance_id=instance_id)
    run = services.lab_check_request(instance=found, step_id=step_id, user=request.user)
    return JsonResponse({"run": run.pk, "step": step_id, "state": run.state}, status=202)


@api_view("GET")
def instance_runs(request, instance_id):
    """Every run of the instance's checks, newest first: time, duration, exit code, outcome."""
    found = lab_instance_get_for_user(user=request.user, instance_id=instance_id)
    view = lab_instance_view(instance=found, user=request.user)
    manager = "setup_output" in view
    runs = CheckRun.objects.filter(instance=found)[:MAX_RUNS]
    return JsonResponse({"runs": [_run_json(run, manager) for run in runs]})


def _run_json(run: CheckRun, manager: bool) -> dict:
    hidden = run.state == CheckRun.State.ERROR and not manager
    return {
        "id": run.pk, "step": run.step_id, "state": run.state,
        "requested_at": run.requested_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "duration": run.duration, "exit_code": None if hidden else run.exit_code,
        "message": STUDENT_ERROR if hidden else run.message,
        "output": "" if hidden else run.output, "truncated": run.truncated and not hidden,
    }

