"""Reads of networks through the viewer's permissions. One rule says who may
use a network (the new-container form's choices, the service's check and the
page all ask `networks_usable_by`): your own personal network, the shared
networks of classes you are enrolled in, own, or assist in, a teacher's
own shared networks, and the networks of labs you have an instance of. Anyone else's network is a 404."""

from django.db.models import Count, Q
from django.http import Http404

from dashboard.containers.models import Container
from dashboard.networks.models import Network

K = Network.Kind


def networks_usable_by(*, user):
    if not user.is_authenticated:
        return Network.objects.none()
    in_class = Q(klass__enrolments__student=user) | Q(klass__owner=user) | Q(klass__assistants=user)
    rule = Q(kind__in=[K.PERSONAL, K.SHARED, K.LAB], owner=user) | (Q(kind=K.SHARED) & in_class)
    # A lab's one network: for every student with an instance of the lab.
    rule |= Q(kind=K.LAB, lab__network="shared", lab__instances__student=user)
    ids = Network.objects.filter(rule).values("id")
    return Network.objects.filter(id__in=ids).select_related("owner", "klass")


def network_get_for_user(*, user, network_id) -> Network:
    try:
        return networks_usable_by(user=user).get(pk=int(network_id))
    except (Network.DoesNotExist, ValueError, TypeError):
        raise Http404("No such network") from None


def network_personal_of(*, user) -> Network | None:
    return Network.objects.filter(kind=K.PERSONAL, owner=user).first()


def network_rows_for(*, user):
    """The networks page's rows: what the user may use, with how many live containers each has."""
    live = Q(containers__status__in=Container.ACTIVE)
    return networks_usable_by(user=user).annotate(container_count=Count("containers", filter=live))


def network_managed_by(*, network: Network, user) -> bool:
    """Whether `user` may change the network's egress or remove it: its owner
    when it is a shared network, an admin for any network but a personal one."""
    if network.kind == K.PERSONAL:
        return False
    return user.is_superuser or (network.kind == K.SHARED and network.owner_id == user.pk)


def network_node_of(*, network: Network):
    """The node where the network's live containers are (its worker alive), if
    any: a network spans one node, so a new container joins its siblings there."""
    containers = Container.objects.filter(network=network, status__in=Container.ACTIVE).select_related("node")
    return next((c.node for c in containers.order_by("id") if c.node and c.node.worker_alive), None)
