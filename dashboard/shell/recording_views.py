"""Recordings of lab shells, for the teacher's side: the player page, the
cast file relayed from its node, and a check run's moment in a recording."""

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dashboard.shell.selectors import (
    recording_check_runs,
    recording_get_for_user,
    recording_of_check,
    recording_stream,
)


def _start_at(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        return 0.0
    return seconds if 0 <= seconds < 1e7 else 0.0


@login_required
@require_GET
def recording_page(request, recording_id):
    recording = recording_get_for_user(user=request.user, recording_id=recording_id)
    checks = recording_check_runs(recording=recording)
    markers = [[round(c["at"], 3), f"{c['run'].step_id}: {c['run'].state}"] for c in checks]
    return render(request, "shell/recording.html", {
        "recording": recording, "checks": checks, "markers": markers,
        "start_at": _start_at(request.GET.get("t", "")),
    })


@require_GET
async def recording_cast(request, recording_id):
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    recording = await sync_to_async(recording_get_for_user)(user=user, recording_id=recording_id)
    return StreamingHttpResponse(recording_stream(recording=recording, user=user),
                                 content_type="application/x-asciicast", headers={"Cache-Control": "no-store"})


@login_required
@require_GET
def check_recording(request, run_id):
    """Where the check run started, in the recording of its instance's shell at that moment."""
    recording, offset = recording_of_check(user=request.user, run_id=run_id)
    return redirect(f"{reverse('shell:recording', args=[recording.pk])}?t={offset:.3f}")
