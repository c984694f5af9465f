"""The dashboard's half of opening a container's port: fetch the app the
user may open (or 404), hand the browser a one-time link to its origin."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from dashboard.appproxy import services
from dashboard.appproxy.selectors import app_container_for_user
from dashboard.containers.selectors import container_get_for_user


@login_required
@require_GET
def app_open(request, container_pk, port):
    container = app_container_for_user(user=request.user, container_pk=container_pk, port=port)
    response = redirect(services.app_open_url(
        user=request.user, session_key=request.session.session_key, container=container, port=port))
    # The token is good for one use and a minute; still, no cache or history keeps it.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_required
@require_POST
def app_share(request, container_pk):
    container = container_get_for_user(user=request.user, container_id=container_pk)
    if container.owner_id != request.user.pk:
        # Only the owner decides; anyone else (a teacher who sees the container too) gets a 404.
        raise Http404("No such container")
    services.app_share_set(container=container, teachers=request.POST.get("teachers") == "on")
    return redirect("containers:detail", container_id=container.pk)
