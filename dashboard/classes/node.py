"""Classes, the node half (the node's root runtime worker): enforce each
class's limits on this node's running lab instances. Past its time limit an
instance is stopped (its writable layer kept, a start brings it back); idle
past the idle limit (no check asked for, no shell opened, cpu below
CPU_ACTIVE_PERCENT) it is suspended with the cgroup freezer (the runtime's
pause: memory and processes kept) and resumed on the student's return.
RETENTION after a class ends its instances are deleted."""

import logging

from django.conf import settings
from django.utils import timezone

from dashboard.classes.grid import last_activity
from dashboard.classes.limits import RETENTION, stop_at, suspend_at
from dashboard.classes.models import Class, Enrolment
from dashboard.classes.push import class_changed
from dashboard.classes.redis_client import client as redis_client
from dashboard.containers.models import Container
from dashboard.containers.node import claim, shared_runtime
from dashboard.containers.services import container_delete, container_stop
from dashboard.labs.models import LabInstance
from dashboard.monitoring.history import SECOND_KEEP, sample_key
from dashboard.monitoring.samples import FIELDS
from runtime import Conflict, TerrariumError

log = logging.getLogger(__name__)
S = Container.Status
# Of one core: a build or a test run the student left going is activity, an idle shell is not.
CPU_ACTIVE_PERCENT = 5.0


def _runtime():
    # Here, not at the top: only the node's worker needs the runtime's settings.
    from runtime import settings as runtime_settings

    return shared_runtime(str(settings.TERRARIUM_ROOT), runtime_settings.cgroup_parent())


def _suspend(container: Container) -> bool:
    if not claim(container.pk, expect=S.RUNNING, status=S.PAUSED, status_detail="suspended while idle"):
        return False
    try:
        _runtime().pause(container.runtime_id or container.runtime_name)
    except TerrariumError:
        claim(container.pk, expect=S.PAUSED, status=S.RUNNING, status_detail="")
        log.exception("suspending container %s failed", container.pk)
        return False
    return True


def classes_limits_enforce_on_node(*, node_name: str, now=None) -> dict[int, str]:
    """One pass over this node's instances in classes with limits or past their
    end -> {instance id: "stopped" | "suspended" | "deleted"} for those it acted on."""
    now = now or timezone.now()
    acted = {}
    limited = Class.objects.exclude(time_limit_seconds=None, idle_limit_seconds=None).select_related("lab")
    for klass in limited:
        done = _enforce_class(klass, node_name, now)
        if done:
            acted.update(done)
            class_changed(class_id=klass.pk)
    acted.update(_retire_ended(node_name, now))
    return acted


def _enforce_class(klass: Class, node_name: str, now) -> dict[int, str]:
    acted = {}
    enrolments = {e.student_id: e for e in klass.enrolments.all()}
    instances = list(LabInstance.objects.filter(
        lab_id=klass.lab_id, student_id__in=list(enrolments), status=LabInstance.Status.READY,
        container__node__name=node_name, container__status=S.RUNNING).select_related("container"))
    active = last_activity(instances) if klass.idle_limit_seconds is not None else {}
    idle = []
    for instance in instances:
        deadline = stop_at(klass=klass, enrolment=enrolments[instance.student_id], instance=instance)
        if deadline is not None and now >= deadline:
            container_stop(container=instance.container)
            acted[instance.pk] = "stopped"
        elif (since := suspend_at(klass=klass, last_active=active.get(instance.pk, now))) and now >= since:
            idle.append(instance)
    busy = cpu_busy([i.container_id for i in idle], klass.idle_limit_seconds, now) if idle else set()
    for instance in idle:
        if instance.container_id not in busy and _suspend(instance.container):
            acted[instance.pk] = "suspended"
    return acted


def _retire_ended(node_name: str, now) -> dict[int, str]:
    """Instances of classes that ended more than RETENTION ago are deleted (until
    then a stopped one is kept, and a start restores it); not while the student
    is in another class of the same lab that has not ended so long ago."""
    acted = {}
    cutoff = now - RETENTION
    for klass in Class.objects.filter(ends_at__lte=cutoff):
        still_needed = Enrolment.objects.filter(klass__lab_id=klass.lab_id).exclude(
            klass__ends_at__lte=cutoff).values("student_id")
        instances = LabInstance.objects.filter(
            lab_id=klass.lab_id, student__enrolments__klass=klass, container__node__name=node_name,
        ).exclude(container__status__in=[S.DELETING, S.DELETED]).exclude(student__in=still_needed)
        for instance in instances.select_related("container"):
            container_delete(container=instance.container)
            acted[instance.pk] = "deleted"
        if acted:
            class_changed(class_id=klass.pk)
    return acted


# KEYS: the containers' 1-second sample sets; ARGV: from, to (epoch seconds),
# the threshold, the positions of t and cpu in a sample. Newest first, a page
# at a time, stopping at the first busy sample: a container at work now costs
# one sample, an idle one its window once (then it is suspended).
_ANY_BUSY = """
local from, to, threshold = ARGV[1], ARGV[2], tonumber(ARGV[3])
local CPU = tonumber(ARGV[4])
local busy = {}
for k = 1, #KEYS do
  busy[k] = 0
  local offset = 0
  while busy[k] == 0 do
    local rows = redis.call('ZREVRANGEBYSCORE', KEYS[k], to, from, 'LIMIT', offset, 60)
    for _, member in ipairs(rows) do
      local cpu = cjson.decode(member)[CPU]
      if type(cpu) == 'number' and cpu >= threshold then busy[k] = 1; break end
    end
    if #rows < 60 then break end
    offset = offset + 60
  end
end
return busy
"""


def cpu_busy(container_ids: list[int], seconds: int, now) -> set[int]:
    """The containers whose cpu went above CPU_ACTIVE_PERCENT in the last `seconds`
    (at most the hour of 1-second samples kept): busy, so not idle. Read only for
    instances idle by every other sign, and folded in Redis, so the pass stays cheap."""
    window = min(seconds, SECOND_KEEP)
    to = now.timestamp()
    busy = redis_client().eval(_ANY_BUSY, len(container_ids), *(sample_key(pk, "s") for pk in container_ids),
                               to - window, to, CPU_ACTIVE_PERCENT, FIELDS.index("cpu_percent") + 1)
    return {pk for pk, flag in zip(container_ids, busy) if flag}


def class_instance_resume_on_node(*, instance_id: int) -> None:
    """Thaw a suspended instance of this node (re-checked here: the id came from a queue)."""
    instance = LabInstance.objects.select_related("container", "container__node").filter(pk=instance_id).first()
    container = instance and instance.container
    if container is None or container.node is None or container.node.name != settings.NODE_NAME:
        return
    if container.status != S.PAUSED:
        return
    # The runtime's unpause is the claim (of two twins, one thaws, the other
    # hears Conflict), and the row says running only after it: a shell waiting
    # for "running" must not exec into a frozen cgroup.
    try:
        _runtime().unpause(container.runtime_id or container.runtime_name)
    except Conflict:
        # Not paused there: a twin thawed it (and records it), or a suspend is
        # between its claim and its freeze (the row is already right).
        return
    except TerrariumError:
        log.exception("resuming container %s failed", container.pk)
        return
    claim(container.pk, expect=S.PAUSED, status=S.RUNNING, status_detail="")
