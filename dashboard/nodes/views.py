"""The nodes page: admins only; anyone else gets a 404 as for any object not theirs."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.accounts.roles import is_admin
from dashboard.nodes.selectors import nodes_with_load


@login_required
@require_GET
def node_list(request):
    if not is_admin(request.user):
        raise Http404("No such page")
    return render(request, "nodes/list.html", {"nodes": nodes_with_load()})
