"""Pages for shells: the full-page terminal, the teachers' audit log, and
the container log download relayed from the node."""

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from dashboard.containers.selectors import container_get_for_user
from dashboard.shell.selectors import (
    ShellUnavailable,
    logs_access,
    logs_stream,
    shell_access,
    shell_sessions_for_audit,
)


@login_required
def session_list(request):
    sessions = shell_sessions_for_audit(user=request.user)
    return render(request, "shell/sessions.html", {"sessions": sessions})


@login_required
def terminal_page(request, container_id, session_key=None):
    if session_key is None:
        container, readonly = container_get_for_user(user=request.user, container_id=container_id), False
    else:
        access = shell_access(user=request.user, container_id=container_id, session_key=session_key)
        container, readonly = access.container, access.readonly
    context = {"container": container, "session_key": session_key or "", "readonly": readonly}
    return render(request, "shell/terminal_page.html", context)


async def logs_download(request, container_id):
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        access = await sync_to_async(logs_access)(user=user, container_id=container_id)
    except ShellUnavailable as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain")
    filename = f"{access.container.name}.log"
    return StreamingHttpResponse(
        logs_stream(access=access, user=user),
        content_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
