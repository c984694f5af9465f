"""The class's recordings page (its teacher and assistants): each student's
lab shells, with the checks they ran during each."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.classes.selectors import class_get_for_user
from dashboard.shell.selectors import class_recordings


@login_required
@require_GET
def class_recordings_page(request, class_id):
    klass = class_get_for_user(user=request.user, class_id=class_id)
    return render(request, "classes/recordings.html", {"klass": klass, "rows": class_recordings(klass=klass)})
