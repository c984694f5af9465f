"""Container pages: fetch what the user may see (or 404), one service call, respond."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dashboard.containers import services
from dashboard.containers.forms import ContainerForm
from dashboard.containers.selectors import (
    container_get_for_user,
    container_rows_for,
    container_status,
    container_statuses,
)


@login_required
@require_GET
def container_list(request):
    return render(request, "containers/list.html", {"containers": container_rows_for(user=request.user)})


@login_required
@require_GET
def container_list_status(request):
    return JsonResponse({"containers": container_statuses(user=request.user)})


@login_required
def container_new(request):
    form = ContainerForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            container = services.container_create(owner=request.user, **form.service_kwargs())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("containers:detail", container_id=container.id)
    return render(request, "containers/new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_GET
def container_detail(request, container_id):
    container = container_get_for_user(user=request.user, container_id=container_id)
    return render(request, "containers/detail.html", {"container": container, "state": container_status(container=container)})


@login_required
@require_GET
def container_detail_status(request, container_id):
    container = container_get_for_user(user=request.user, container_id=container_id)
    return JsonResponse(container_status(container=container))


def _action(service, verb: str):
    @login_required
    @require_POST
    def view(request, container_id):
        container = container_get_for_user(user=request.user, container_id=container_id)
        try:
            service(container=container)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{verb} {container.name}.")
        return redirect("containers:detail", container_id=container.id)

    return view


container_start = _action(services.container_start, "Starting")
container_stop = _action(services.container_stop, "Stopping")
container_restart = _action(services.container_restart, "Restarting")
container_delete = _action(services.container_delete, "Deleting")
