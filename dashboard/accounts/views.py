"""Quotas page: teachers set students' quotas, admins anyone's; others get 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_GET, require_POST

from dashboard.accounts.forms import QuotaForm
from dashboard.accounts.roles import is_teacher
from dashboard.accounts.selectors import quota_for, user_get_quota_manageable, users_quota_manageable_by
from dashboard.accounts.services import quota_set


@login_required
@require_GET
def quota_list(request):
    if not is_teacher(request.user):
        raise Http404("No such page")
    rows = [(u, quota_for(user=u)) for u in users_quota_manageable_by(user=request.user)]
    return render(request, "accounts/quotas.html", {"rows": rows})


@login_required
@require_POST
def quota_update(request, user_id):
    target = user_get_quota_manageable(user=request.user, user_id=user_id)
    form = QuotaForm(request.POST)
    if form.is_valid():
        quota = quota_set(user=target, **form.quota_kwargs())
        messages.success(request, f"Quota of {target.username}: {quota.max_containers} containers, "
                                  f"{filesizeformat(quota.max_memory_bytes)}, {quota.max_cpus:g} cpus, "
                                  f"{quota.pids_limit} pids and {filesizeformat(quota.disk_bytes)} of disk per container, "
                                  f"{quota.max_shells} shells, {quota.max_images} images "
                                  f"({filesizeformat(quota.max_image_bytes)}).")
    else:
        messages.error(request, f"Quota of {target.username} unchanged: " + " ".join(
            f"{form.fields[f].label}: {' '.join(e)}" for f, e in form.errors.items()))
    return redirect("accounts:quotas")
