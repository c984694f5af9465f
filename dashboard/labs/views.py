"""Lab pages: fetch what the user may see (or 404), one service call, respond."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard.accounts.roles import is_teacher
from dashboard.labs import services
from dashboard.labs.labfile import EGRESS, LabError, LabInvalid, lab_points
from dashboard.labs.selectors import (
    lab_get_for_user,
    lab_instance_get_for_user,
    lab_instance_of,
    lab_instance_view,
    lab_instances_for_teacher,
    lab_managed_by,
    lab_texts,
    labs_visible_to,
)
from dashboard.labs.tokens import api_token_create, api_token_delete
from dashboard.networks.services import network_lab_egress_set
from dashboard.shell.selectors import shell_sessions_to_watch


def _step_items(lab, texts: dict, view: dict | None) -> list[dict]:
    views = {step["id"]: step for step in view["steps"]} if view else {}
    return [{"step": step, "html": texts["steps"][step["id"]], "view": views.get(step["id"])} for step in lab.steps]


def _list(request, *, errors=(), status=200):
    return render(request, "labs/list.html", {"labs": labs_visible_to(user=request.user), "errors": errors,
                                              "can_import": is_teacher(request.user)}, status=status)


@login_required
@require_GET
def lab_list(request):
    return _list(request)


@login_required
@require_POST
def lab_import(request):
    upload = request.FILES.get("lab_file")
    if upload is None:
        return _list(request, errors=[LabError(None, "Choose a lab file (lab.yaml or a zip).")], status=400)
    try:
        lab = services.lab_import(owner=request.user, upload=upload)
    except LabInvalid as exc:
        return _list(request, errors=exc.errors, status=400)
    messages.success(request, f"Imported {lab.title}.")
    return redirect("labs:detail", lab_id=lab.pk)


@login_required
@require_GET
def lab_detail(request, lab_id):
    lab = lab_get_for_user(user=request.user, lab_id=lab_id)
    instance = lab_instance_of(lab=lab, student=request.user)
    context = {"lab": lab, "instance": instance, "texts": lab_texts(lab=lab, student_id=request.user.pk),
               "points": lab_points(lab.definition), "manager": lab_managed_by(lab=lab, user=request.user),
               "egress_values": EGRESS}
    if instance is not None:
        context["view"] = lab_instance_view(instance=instance, user=request.user)
        context["container"] = instance.container
    context["steps"] = _step_items(lab, context["texts"], context.get("view"))
    if context["manager"]:
        context["instances"] = lab_instances_for_teacher(lab=lab)
    return render(request, "labs/lab.html", context)


@login_required
@require_POST
def lab_start(request, lab_id):
    lab = lab_get_for_user(user=request.user, lab_id=lab_id)
    try:
        services.lab_instance_start(lab=lab, student=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
    return redirect("labs:detail", lab_id=lab.pk)


@login_required
@require_POST
def lab_assign_all(request, lab_id):
    lab = lab_get_for_user(user=request.user, lab_id=lab_id)
    services.lab_assign_all(lab=lab, teacher=request.user)
    messages.success(request, f"{lab.title} is assigned to every student.")
    return redirect("labs:detail", lab_id=lab.pk)


@login_required
@require_POST
def lab_share(request, lab_id):
    lab = lab_get_for_user(user=request.user, lab_id=lab_id)
    shared = request.POST.get("shared") == "yes"
    services.lab_share(lab=lab, teacher=request.user, shared=shared)
    messages.success(request, f"{lab.title} is {'shared with' if shared else 'no longer shared with'} other teachers.")
    return redirect("labs:detail", lab_id=lab.pk)


@login_required
@require_POST
def lab_egress(request, lab_id):
    lab = lab_get_for_user(user=request.user, lab_id=lab_id)
    try:
        network_lab_egress_set(lab=lab, egress=request.POST.get("egress", ""), by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{lab.title}: network egress {lab.egress}.")
    return redirect("labs:detail", lab_id=lab.pk)


@login_required
@require_GET
def instance_detail(request, instance_id):
    instance = lab_instance_get_for_user(user=request.user, instance_id=instance_id)
    if instance.student_id == request.user.pk:
        return redirect("labs:detail", lab_id=instance.lab_id)
    lab = instance.lab
    view = lab_instance_view(instance=instance, user=request.user)
    steps = _step_items(lab, lab_texts(lab=lab, student_id=instance.student_id), view)
    shells = shell_sessions_to_watch(user=request.user, container=instance.container)
    return render(request, "labs/instance.html",
                  {"lab": lab, "instance": instance, "view": view, "steps": steps, "shells": shells})


@login_required
@require_GET
def instance_state(request, instance_id):
    instance = lab_instance_get_for_user(user=request.user, instance_id=instance_id)
    return JsonResponse(lab_instance_view(instance=instance, user=request.user, step_id=request.GET.get("step")))


@login_required
@require_POST
def instance_check(request, instance_id, step_id):
    instance = lab_instance_get_for_user(user=request.user, instance_id=instance_id)
    try:
        services.lab_check_request(instance=instance, step_id=step_id, user=request.user)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=409)
    except PermissionDenied as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    return JsonResponse(lab_instance_view(instance=instance, user=request.user, step_id=step_id), status=202)


@login_required
def api_tokens(request):
    """The user's personal API tokens; a new one is shown once, here."""
    token = None
    if request.method == "POST":
        if "delete" in request.POST:
            api_token_delete(user=request.user, token_id=request.POST.get("delete"))
            return redirect("labs:tokens")
        try:
            _, token = api_token_create(user=request.user, name=request.POST.get("name", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return render(request, "labs/tokens.html", {"tokens": request.user.api_tokens.all(), "token": token})
