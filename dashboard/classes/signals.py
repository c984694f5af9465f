"""A student's new lab instance joins their class's grid: the grid's sockets
then also listen on the instance's own group, where the labs' node half
announces each check result and status change (dashboard.labs.push).
The hints the labs show a student in a class are recorded (the export's
"hints used")."""

from django.db.models.signals import post_save

from dashboard.classes.models import Class, Enrolment, HintSeen
from dashboard.classes.push import class_changed
from dashboard.labs.models import LabInstance
from dashboard.labs.selectors import hints_shown


def instance_created(sender, instance: LabInstance, created: bool, **kwargs):
    if not created:
        return
    for class_id in Class.objects.filter(lab_id=instance.lab_id, enrolments__student_id=instance.student_id
                                         ).values_list("pk", flat=True):
        class_changed(class_id=class_id)


def hints_seen(sender, instance: LabInstance, shown: dict[str, int], **kwargs):
    """shown: step id -> how many of its hints the student's page has; one
    read, and a write only for a hint not seen before."""
    shown = {step_id: count for step_id, count in shown.items() if count}
    if not shown:
        return
    seen = set(HintSeen.objects.filter(instance=instance, step_id__in=list(shown)).values_list("step_id", "number"))
    new = [HintSeen(instance=instance, step_id=step_id, number=number)
           for step_id, count in shown.items() for number in range(1, count + 1) if (step_id, number) not in seen]
    if new and Enrolment.objects.filter(student_id=instance.student_id, klass__lab_id=instance.lab_id).exists():
        HintSeen.objects.bulk_create(new, ignore_conflicts=True)


def connect() -> None:
    post_save.connect(instance_created, sender=LabInstance, dispatch_uid="classes-instance-created")
    hints_shown.connect(hints_seen, dispatch_uid="classes-hints-seen")
