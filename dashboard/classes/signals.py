"""A student's new lab instance joins their class's grid: the grid's sockets
then also listen on the instance's own group, where the labs' node half
announces each check result and status change (dashboard.labs.push)."""

from django.db.models.signals import post_save

from dashboard.classes.models import Class
from dashboard.classes.push import class_changed
from dashboard.labs.models import LabInstance


def instance_created(sender, instance: LabInstance, created: bool, **kwargs):
    if not created:
        return
    for class_id in Class.objects.filter(lab_id=instance.lab_id, enrolments__student_id=instance.student_id
                                         ).values_list("pk", flat=True):
        class_changed(class_id=class_id)


def connect() -> None:
    post_save.connect(instance_created, sender=LabInstance, dispatch_uid="classes-instance-created")
