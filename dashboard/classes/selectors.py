"""Reads of classes through the viewer's permissions: a class is seen by its
teacher (the owner), its assistants and admins; anyone else gets a 404.
A student sees their own enrolments."""

from django.db.models import Q
from django.http import Http404

from dashboard.accounts.roles import is_admin, is_teacher
from dashboard.classes.limits import stop_at
from dashboard.classes.models import Class, Enrolment
from dashboard.containers.models import Container
from dashboard.labs.models import Lab, LabInstance


def classes_for_staff(*, user):
    """The classes a user teaches or assists in (an admin: all)."""
    qs = Class.objects.select_related("lab", "owner")
    if not user.is_authenticated:
        return qs.none()
    if is_admin(user):
        return qs
    return qs.filter(Q(owner=user) | Q(assistants=user)).distinct()


def class_get_for_user(*, user, class_id) -> Class:
    try:
        return classes_for_staff(user=user).get(pk=int(class_id))
    except (Class.DoesNotExist, ValueError, TypeError):
        raise Http404("No such class") from None


def class_owned_by(*, klass: Class, user) -> bool:
    """Whether `user` may change the class (code, roster, assistants), not only help in it."""
    return is_admin(user) or klass.owner_id == user.pk


def teacher_labs(*, user):
    """The labs a teacher may make a class of: their own and those shared with teachers."""
    if not is_teacher(user):
        return Lab.objects.none()
    if is_admin(user):
        return Lab.objects.all()
    return Lab.objects.filter(Q(owner=user) | Q(shared_with_teachers=True))


def enrolments_of(*, student):
    return Enrolment.objects.filter(student=student).select_related("klass", "klass__lab").order_by("-joined_at")


def enrolment_get_for_student(*, student, class_id) -> Enrolment:
    try:
        return enrolments_of(student=student).get(klass_id=int(class_id))
    except (Enrolment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such class") from None


def enrolment_for_lab(*, student, lab_id: int) -> Enrolment | None:
    """The student's enrolment in a class of this lab (the newest), for the lab page's controls."""
    if not student.is_authenticated:
        return None
    return enrolments_of(student=student).filter(klass__lab_id=lab_id).first()


def enrolment_limits_view(*, enrolment: Enrolment) -> dict:
    """What the student's controls show: whether their instance is suspended,
    when it stops, the idle limit, the extensions left."""
    klass = enrolment.klass
    instance = LabInstance.objects.select_related("container").filter(
        lab_id=klass.lab_id, student_id=enrolment.student_id).first()
    container = instance and instance.container
    return {
        "suspended": bool(container and container.status == Container.Status.PAUSED),
        "stop_at": instance and stop_at(klass=klass, enrolment=enrolment, instance=instance),
        "time_limited": klass.time_limit_seconds is not None,
        "idle_minutes": klass.idle_limit_seconds and max(1, klass.idle_limit_seconds // 60),
        "extensions_left": max(0, klass.student_extensions - enrolment.extensions_used),
    }
