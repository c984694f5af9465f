"""Network pages: fetch what the user may use (or 404), one service call, respond."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dashboard.accounts.roles import is_teacher
from dashboard.classes.models import Class
from dashboard.networks import services
from dashboard.networks.forms import EgressForm, NewNetworkForm
from dashboard.networks.selectors import network_get_for_user, network_managed_by, network_rows_for


def _classes_of(user):
    return Class.objects.all() if user.is_superuser else Class.objects.filter(owner=user)


def _page(request, form=None, status=200):
    rows = [(n, network_managed_by(network=n, user=request.user)) for n in network_rows_for(user=request.user)]
    teacher = is_teacher(request.user)
    if form is None and teacher:
        form = NewNetworkForm(classes=_classes_of(request.user))
    return render(request, "networks/list.html", {"rows": rows, "form": form, "egress_choices": EgressForm.base_fields[
        "egress"].choices}, status=status)


@login_required
def network_list(request):
    if request.method != "POST":
        return _page(request)
    if not is_teacher(request.user):
        raise PermissionDenied("Only teachers may create shared networks.")
    form = NewNetworkForm(request.POST, classes=_classes_of(request.user))
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        network = services.network_create(owner=request.user, name=form.cleaned_data["name"],
                                          egress=form.cleaned_data["egress"], klass=form.cleaned_data["klass"])
    except ValidationError as exc:
        form.add_error(None, exc)
        return _page(request, form, status=400)
    messages.success(request, f"Network {network.name} created.")
    return redirect("networks:list")


@login_required
@require_POST
def network_egress(request, network_id):
    network = network_get_for_user(user=request.user, network_id=network_id)
    form = EgressForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Egress is internet, open or none.")
        return redirect("networks:list")
    try:
        services.network_update(network=network, egress=form.cleaned_data["egress"], by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Network {network.name}: egress {network.egress}.")
    return redirect("networks:list")


@login_required
@require_POST
def network_delete(request, network_id):
    network = network_get_for_user(user=request.user, network_id=network_id)
    try:
        services.network_remove(network=network, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Network {network.name} removed.")
    return redirect("networks:list")
