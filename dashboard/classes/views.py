"""Class pages: fetch what the user may see (or 404), one service call, respond."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.accounts.roles import is_teacher
from dashboard.classes import services
from dashboard.classes.export import export_csv, export_records, passwords_csv
from dashboard.classes.forms import JoinForm, NewClassForm, RegisterForm, SettingsForm
from dashboard.classes.grid import cell_output, class_grid
from dashboard.classes.roster import RosterInvalid
from dashboard.classes.selectors import (
    class_get_for_user,
    class_owned_by,
    classes_for_staff,
    enrolment_get_for_student,
    teacher_labs,
)


def _lab_page(klass) -> str:
    return reverse("labs:detail", args=[klass.lab_id])


def _back(request, enrolment) -> str:
    """Where a student's control sends them back: the lab's page they came from, or their class page."""
    lab_page = _lab_page(enrolment.klass)
    return lab_page if request.POST.get("next") == lab_page else reverse("classes:student", args=[enrolment.klass_id])


def _refusal(exc: Exception) -> str:
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


@login_required
@require_GET
def class_list(request):
    return render(request, "classes/list.html", {"classes": classes_for_staff(user=request.user),
                                                 "can_create": is_teacher(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def class_new(request):
    if not is_teacher(request.user):
        raise Http404("No such page")
    form = NewClassForm(request.POST or None, labs=teacher_labs(user=request.user))
    if request.method == "POST" and form.is_valid():
        try:
            klass = services.class_create(owner=request.user, name=form.cleaned_data["name"],
                                          lab_id=form.cleaned_data["lab"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("classes:detail", class_id=klass.pk)
    return render(request, "classes/new.html", {"form": form}, status=400 if form.errors else 200)


def _detail(request, klass, *, settings_form=None, roster_errors=(), status=200):
    owner = class_owned_by(klass=klass, user=request.user)
    settings_form = settings_form or SettingsForm(initial={
        "seats": klass.seats, "self_registration": klass.self_registration,
        "join_code_expires_at": klass.join_code_expires_at, "starts_at": klass.starts_at, "ends_at": klass.ends_at,
        "time_limit_minutes": klass.time_limit_seconds and klass.time_limit_seconds // 60,
        "idle_limit_minutes": klass.idle_limit_seconds and klass.idle_limit_seconds // 60,
        "student_extensions": klass.student_extensions})
    return render(request, "classes/detail.html", {
        "klass": klass, "owner": owner, "grid": class_grid(klass=klass), "settings_form": settings_form,
        "roster_errors": roster_errors, "assistants": klass.assistants.order_by("username"),
        "seats_taken": klass.enrolments.count(),
    }, status=status)


@login_required
@require_GET
def class_detail(request, class_id):
    return _detail(request, class_get_for_user(user=request.user, class_id=class_id))


@login_required
@require_POST
def class_settings(request, class_id):
    klass = class_get_for_user(user=request.user, class_id=class_id)
    form = SettingsForm(request.POST)
    if not form.is_valid():
        return _detail(request, klass, settings_form=form, status=400)
    try:
        services.class_settings_set(klass=klass, by=request.user, **form.limits_in_seconds())
    except ValidationError as exc:
        form.add_error(None, exc)
        return _detail(request, klass, settings_form=form, status=400)
    messages.success(request, "Saved.")
    return redirect("classes:detail", class_id=klass.pk)


@login_required
@require_POST
def class_code_renew(request, class_id):
    klass = class_get_for_user(user=request.user, class_id=class_id)
    services.class_join_code_renew(klass=klass, by=request.user)
    messages.success(request, "A new join code: the old one no longer works.")
    return redirect("classes:detail", class_id=klass.pk)


@login_required
@require_POST
def class_assistants(request, class_id):
    klass = class_get_for_user(user=request.user, class_id=class_id)
    try:
        if "remove" in request.POST:
            services.class_assistant_remove(klass=klass, by=request.user, user_id=request.POST["remove"])
        else:
            services.class_assistant_add(klass=klass, by=request.user, username=request.POST.get("username", ""))
    except ValidationError as exc:
        messages.error(request, _refusal(exc))
    return redirect("classes:detail", class_id=klass.pk)


@login_required
@require_POST
def class_roster(request, class_id):
    """The accounts' one-time passwords come back once, as this response's CSV; they are not kept."""
    klass = class_get_for_user(user=request.user, class_id=class_id)
    upload = request.FILES.get("roster")
    if upload is None:
        return _detail(request, klass, roster_errors=["Choose a roster CSV file."], status=400)
    try:
        made = services.class_roster_import(klass=klass, by=request.user, data=upload.read(300 * 1024))
    except RosterInvalid as exc:
        return _detail(request, klass, roster_errors=exc.errors, status=400)
    response = HttpResponse(passwords_csv(made), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="class-{klass.pk}-passwords.csv"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def class_export(request, class_id, fmt):
    klass = class_get_for_user(user=request.user, class_id=class_id)
    grid = class_grid(klass=klass)
    if fmt == "json":
        return JsonResponse({"class": klass.name, "lab": klass.lab.title, "students": export_records(grid)})
    response = HttpResponse(export_csv(grid), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="class-{klass.pk}.csv"'
    return response


@login_required
@require_GET
def class_grid_json(request, class_id):
    klass = class_get_for_user(user=request.user, class_id=class_id)
    return JsonResponse(class_grid(klass=klass))


@login_required
@require_GET
def class_cell(request, class_id, student_id, step_id):
    klass = class_get_for_user(user=request.user, class_id=class_id)
    output = cell_output(klass=klass, student_id=student_id, step_id=step_id)
    if output is None:
        raise Http404("No check has run yet")
    return JsonResponse(output)


def _throttle_key(request) -> str:
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"addr:{request.META.get('REMOTE_ADDR', '')}"


@require_http_methods(["GET", "POST"])
def join(request):
    """A student enters a join code (a visitor may make an account with it when the class allows)."""
    form_class = JoinForm if request.user.is_authenticated else RegisterForm
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data, key = form.cleaned_data, _throttle_key(request)
        try:
            if request.user.is_authenticated:
                enrolment = services.class_join(student=request.user, code=data["code"], throttle_key=key)
            else:
                user, enrolment = services.class_register(code=data["code"], username=data["username"],
                                                          password=data["password"], throttle_key=key)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        except (services.JoinRefused, ValidationError) as exc:
            form.add_error(None, _refusal(exc))
        else:
            return redirect(_lab_page(enrolment.klass))
    return render(request, "classes/join.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_GET
def student_class(request, class_id):
    enrolment = enrolment_get_for_student(student=request.user, class_id=class_id)
    return render(request, "classes/student.html", {"enrolment": enrolment, "klass": enrolment.klass})


@login_required
@require_POST
def student_hand(request, class_id):
    enrolment = enrolment_get_for_student(student=request.user, class_id=class_id)
    services.enrolment_hand_set(enrolment=enrolment, raised=request.POST.get("raised") == "1")
    return redirect(_back(request, enrolment))



@login_required
@require_http_methods(["GET", "POST"])
def student_reset(request, class_id):
    """The student's "Reset lab": a confirmation first (their files in the lab are discarded)."""
    enrolment = enrolment_get_for_student(student=request.user, class_id=class_id)
    if request.method == "GET":
        return render(request, "classes/reset_confirm.html", {"klass": enrolment.klass, "whom": "your lab",
                                                               "student": None})
    try:
        services.enrolment_reset(enrolment=enrolment)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
        return redirect("classes:student", class_id=enrolment.klass_id)
    messages.success(request, "Your lab is being made anew.")
    return redirect(_lab_page(enrolment.klass))


@login_required
@require_http_methods(["GET", "POST"])
def class_reset(request, class_id):
    """The teacher's or an assistant's reset of one student (`student`) or all: a confirmation first."""
    klass = class_get_for_user(user=request.user, class_id=class_id)
    student = request.GET.get("student") or request.POST.get("student") or ""
    student_ids = [int(student)] if student.isdigit() else None
    if request.method == "GET":
        enrolment = klass.enrolments.select_related("student").filter(student_id=student_ids[0]).first() \
            if student_ids else None
        if student_ids and enrolment is None:
            raise Http404("No such student in this class")
        whom = f"{enrolment.student.username}'s lab" if enrolment else "every student's lab"
        return render(request, "classes/reset_confirm.html", {"klass": klass, "whom": whom, "student": student})
    outcome = services.class_reset(klass=klass, by=request.user, student_ids=student_ids)
    done = [name for name, what in outcome.items() if what == "reset"]
    if done:
        messages.success(request, f"Reset: {', '.join(done)}.")
    for name, what in outcome.items():
        if what != "reset":
            messages.error(request, f"{name}: {what}")
    return redirect("classes:detail", class_id=klass.pk)


@login_required
@require_POST
def student_resume(request, class_id):
    enrolment = enrolment_get_for_student(student=request.user, class_id=class_id)
    try:
        services.enrolment_resume(enrolment=enrolment)
    except ValidationError as exc:
        messages.error(request, _refusal(exc))
    return redirect(_back(request, enrolment))


@login_required
@require_POST
def student_extend(request, class_id):
    enrolment = enrolment_get_for_student(student=request.user, class_id=class_id)
    try:
        services.enrolment_extend(enrolment=enrolment, by=request.user)
    except ValidationError as exc:
        messages.error(request, _refusal(exc))
    return redirect(_back(request, enrolment))


@login_required
@require_POST
def class_extend(request, class_id):
    """The teacher's or an assistant's extension of one student's time limit."""
    klass = class_get_for_user(user=request.user, class_id=class_id)
    enrolment = klass.enrolments.filter(student_id=request.POST.get("student", "")).first() \
        if request.POST.get("student", "").isdigit() else None
    if enrolment is None:
        raise Http404("No such student in this class")
    try:
        services.enrolment_extend(enrolment=enrolment, by=request.user)
    except ValidationError as exc:
        messages.error(request, _refusal(exc))
    return redirect("classes:detail", class_id=klass.pk)
