"""Networks, the web side: a student's personal network made on first use,
teachers' shared networks, egress changes. A change is recorded here and
applied by `tasks.network_apply` on every node with containers on the
network, which reads the row again (dashboard.networks.node)."""

import re

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from dashboard.accounts.roles import is_teacher
from dashboard.containers.models import Container
from dashboard.networks import tasks
from dashboard.networks.models import Network
from dashboard.networks.selectors import network_managed_by, network_personal_of, networks_usable_by
from dashboard.nodes.models import Node

K = Network.Kind
# What container_create takes for "the owner's personal network" (made on first use).
PERSONAL = "personal"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")


def network_personal_for(*, user) -> Network:
    """The user's own network, made now if this is its first use."""
    network = network_personal_of(user=user)
    if network is not None:
        return network
    try:
        with transaction.atomic():
            return Network.objects.create(owner=user, name=user.username[:63], kind=K.PERSONAL)
    except IntegrityError:
        return network_personal_of(user=user)


def network_for_container(*, owner, network) -> Network | None:
    """The network a new container of `owner` joins: PERSONAL, None (no
    network) or a Network the owner may use; any other one is refused."""
    if network is None:
        return None
    if network == PERSONAL:
        return network_personal_for(user=owner)
    if not networks_usable_by(user=owner).filter(pk=network.pk).exists():
        raise ValidationError({"network": "You may not use that network."})
    return network


def network_for_lab(*, lab, student) -> Network:
    """The network of the student's instance of the lab, made on first use:
    their own network of this lab, or the lab's one network when it says shared."""
    shared = lab.network == "shared"
    owner, name = (lab.owner, f"lab-{lab.pk}-all") if shared else (student, f"lab-{lab.pk}")
    try:
        with transaction.atomic():
            network, _ = Network.objects.get_or_create(
                owner=owner, name=name, kind=K.LAB, defaults={"lab": lab, "egress": lab.egress})
    except IntegrityError:
        network = Network.objects.get(owner=owner, name=name, kind=K.LAB)
    return network


@transaction.atomic
def network_lab_egress_set(*, lab, egress: str, by):
    """The lab's egress and that of every network of it, applied on their nodes within seconds."""
    if not (by.is_superuser or lab.owner_id == by.pk):
        raise PermissionDenied("Only the lab's owner may change its network's egress.")
    if egress not in Network.Egress.values:
        raise ValidationError({"egress": "Egress is internet, open or none."})
    type(lab).objects.filter(pk=lab.pk).update(egress=egress)
    lab.egress = egress
    for network in Network.objects.filter(lab=lab).exclude(egress=egress):
        _egress_set(network, egress)
    return lab


def _nodes_of(network: Network):
    """Nodes whose runtime may have the network: those of its containers, deleted ones included."""
    return Node.objects.filter(containers__network=network).distinct()


def network_queue_apply(network: Network) -> None:
    """Once committed, each node with the network makes its runtime's record match the row."""
    queues = [node.queue for node in _nodes_of(network)]
    network_id = network.pk
    transaction.on_commit(lambda: [tasks.network_apply.apply_async(args=[network_id], queue=q) for q in queues])


@transaction.atomic
def network_create(*, owner, name: str, egress: str = Network.Egress.INTERNET, klass=None) -> Network:
    """A teacher's shared network, for a class of theirs or their own group."""
    if not is_teacher(owner):
        raise PermissionDenied("Only teachers may create shared networks.")
    name = name.strip()
    if not _NAME.match(name) or name.startswith("lab-"):
        raise ValidationError({"name": "A network's name is letters, digits, '_', '.' and '-', "
                                       "starting with a letter or digit (not lab-, the labs' own), 63 at most."})
    if egress not in Network.Egress.values:
        raise ValidationError({"egress": "Egress is internet, open or none."})
    if klass is not None and not (owner.is_superuser or klass.owner_id == owner.pk):
        raise ValidationError({"klass": "You may only give a network to a class of your own."})
    most = settings.NETWORKS_PER_TEACHER
    if Network.objects.select_for_update().filter(owner=owner, kind=K.SHARED).count() >= most:
        raise ValidationError(f"Limit reached: a teacher may have at most {most} shared networks.")
    if Network.objects.filter(owner=owner, name=name).exclude(kind=K.PERSONAL).exists():
        raise ValidationError({"name": f"You already have a network named {name}."})
    return Network.objects.create(owner=owner, name=name, kind=K.SHARED, egress=egress, klass=klass)


@transaction.atomic
def network_update(*, network: Network, egress: str, by) -> Network:
    """A new egress, applied on every node with containers on the network within seconds."""
    if not network_managed_by(network=network, user=by):
        raise PermissionDenied("Only the network's teacher may change its egress.")
    return _egress_set(network, egress)


def _egress_set(network: Network, egress: str) -> Network:
    if egress not in Network.Egress.values:
        raise ValidationError({"egress": "Egress is internet, open or none."})
    Network.objects.filter(pk=network.pk).update(egress=egress)
    network.egress = egress
    network_queue_apply(network)
    return network


@transaction.atomic
def network_remove(*, network: Network, by) -> None:
    """Gone from the dashboard and, once committed, from its nodes; refused while containers use it."""
    if not network_managed_by(network=network, user=by):
        raise PermissionDenied("Only the network's teacher may remove it.")
    in_use = Container.objects.filter(network=network).exclude(status=Container.Status.DELETED)
    if in_use.exists():
        raise ValidationError(f"Network {network.name} has containers: delete them first.")
    network_queue_apply(network)
    network.delete()
