"""Classes, the web side: make a class of a lab, enrol students (join code,
self-registration, roster), the raised hand, resets through the labs' own
start, resuming a suspended instance and extending the time limit. Bad input: one clear error, nothing changed."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard.accounts.models import PasswordChangeRequired
from dashboard.accounts.roles import is_teacher
from dashboard.classes import tasks
from dashboard.classes.codes import new_join_code, new_password, normalize_join_code
from dashboard.classes.limits import EXTEND_SECONDS
from dashboard.classes.models import Class, Enrolment
from dashboard.classes.push import class_changed
from dashboard.classes.roster import parse_roster
from dashboard.classes.selectors import class_owned_by, classes_for_staff, teacher_labs
from dashboard.classes.throttle import MESSAGE as THROTTLED, join_throttled, join_wrong_record
from dashboard.containers.models import Container
from dashboard.containers.services import container_delete
from dashboard.labs.models import LabInstance
from dashboard.labs.selectors import suspended_instance
from dashboard.labs.services import lab_instance_start

WRONG = "No class has this join code."
EXPIRED = "This join code has expired: ask your teacher for a new one."
FULL = "This class is full: ask your teacher."
ENDED = "This class has ended."
NO_SELF_REGISTRATION = "This class does not make accounts: log in first, then enter the code."


class JoinRefused(Exception):
    """A join code that does not let this user in, with the one message to show."""


def _require_owner(klass: Class, user) -> None:
    if not class_owned_by(klass=klass, user=user):
        raise PermissionDenied("Only the class's teacher may change it.")


def class_create(*, owner, name: str, lab_id) -> Class:
    if not is_teacher(owner):
        raise PermissionDenied("Only teachers make classes.")
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError("A class needs a name of at most 100 characters.")
    lab = teacher_labs(user=owner).filter(pk=lab_id).first() if str(lab_id).isdigit() else None
    if lab is None:
        raise ValidationError("Choose one of your labs.")
    return Class.objects.create(name=name, lab=lab, owner=owner)


def class_settings_set(*, klass: Class, by, seats: int, self_registration: bool, join_code_expires_at,
                       starts_at, ends_at, time_limit_seconds=None, idle_limit_seconds=None,
                       student_extensions: int = 1) -> Class:
    _require_owner(klass, by)
    if not 1 <= seats <= 1000:
        raise ValidationError("Seats: between 1 and 1000.")
    if starts_at and ends_at and ends_at <= starts_at:
        raise ValidationError("The class must end after it starts.")
    klass.seats, klass.self_registration = seats, self_registration
    klass.join_code_expires_at, klass.starts_at, klass.ends_at = join_code_expires_at, starts_at, ends_at
    klass.time_limit_seconds, klass.idle_limit_seconds = time_limit_seconds, idle_limit_seconds
    klass.student_extensions = student_extensions
    klass.save(update_fields=["seats", "self_registration", "join_code_expires_at", "starts_at", "ends_at",
                              "time_limit_seconds", "idle_limit_seconds", "student_extensions"])
    return klass


def class_join_code_renew(*, klass: Class, by) -> Class:
    """A new code (the old one stops working), e.g. after it leaked."""
    _require_owner(klass, by)
    for _ in range(5):
        klass.join_code = new_join_code()
        try:
            with transaction.atomic():
                klass.save(update_fields=["join_code"])
            return klass
        except IntegrityError:
            continue
    raise ValidationError("Could not make a new join code: try again.")


def class_assistant_add(*, klass: Class, by, username: str) -> None:
    _require_owner(klass, by)
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None:
        raise ValidationError(f"No user named {username.strip()!r}.")
    if user.pk == klass.owner_id:
        raise ValidationError("The class's teacher is not an assistant.")
    klass.assistants.add(user)


def class_assistant_remove(*, klass: Class, by, user_id) -> None:
    _require_owner(klass, by)
    klass.assistants.remove(*klass.assistants.filter(pk=user_id))


def _class_id_for_code(code: str, throttle_key: str) -> int:
    """Outside any transaction: a wrong code is recorded even though the join is refused."""
    if join_throttled(key=throttle_key):
        raise JoinRefused(THROTTLED)
    class_id = Class.objects.filter(join_code=normalize_join_code(code)).values_list("pk", flat=True).first()
    if class_id is None:
        join_wrong_record(key=throttle_key)
        raise JoinRefused(WRONG)
    return class_id


def _enrol(klass: Class, student) -> Enrolment:
    """Enrol `student` in `klass` (locked by the caller), or JoinRefused."""
    existing = Enrolment.objects.filter(klass=klass, student=student).first()
    if existing is not None:
        return existing
    now = timezone.now()
    if klass.ends_at and klass.ends_at <= now:
        raise JoinRefused(ENDED)
    if klass.join_code_expires_at and klass.join_code_expires_at <= now:
        raise JoinRefused(EXPIRED)
    if klass.enrolments.count() >= klass.seats:
        raise JoinRefused(FULL)
    enrolment = Enrolment.objects.create(klass=klass, student=student)
    class_changed(class_id=klass.pk)
    return enrolment


def class_join(*, student, code: str, throttle_key: str) -> Enrolment:
    """A logged-in student enters a join code; JoinRefused with its message, nothing changed."""
    class_id = _class_id_for_code(code, throttle_key)
    with transaction.atomic():
        # Locked: two students taking the last seat at once get one seat between them.
        return _enrol(Class.objects.select_for_update().get(pk=class_id), student)


def class_register(*, code: str, username: str, password: str, throttle_key: str):
    """A visitor makes an account with a join code of a class that allows it
    -> (user, enrolment); JoinRefused or ValidationError, nothing made."""
    class_id = _class_id_for_code(code, throttle_key)
    with transaction.atomic():
        return _register(Class.objects.select_for_update().get(pk=class_id), username, password)


def _register(klass: Class, username: str, password: str):
    if not klass.self_registration:
        raise JoinRefused(NO_SELF_REGISTRATION)
    User = get_user_model()
    username = username.strip()
    User.username_validator(username)
    if not username or User.objects.filter(username=username).exists():
        raise ValidationError("This username is taken or empty: choose another.")
    user = User(username=username)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    return user, _enrol(klass, user)


@transaction.atomic
def class_roster_import(*, klass: Class, by, data: bytes) -> list[dict]:
    """Accounts for a roster CSV, enrolled, each with a one-time password they
    must change at first login -> the rows with their passwords (shown once,
    never stored); RosterInvalid listing each bad line, nothing made."""
    _require_owner(klass, by)
    rows = parse_roster(data)
    User = get_user_model()
    made = []
    for row in rows:
        first, _, last = row.name.rpartition(" ") if " " in row.name else (row.name, "", "")
        password = new_password()
        user = User.objects.create_user(username=row.username, email=row.email, password=password,
                                        first_name=first[:150], last_name=last[:150])
        PasswordChangeRequired.objects.create(user=user)
        Enrolment.objects.create(klass=klass, student=user)
        made.append({"username": row.username, "name": row.name, "email": row.email, "password": password})
    class_changed(class_id=klass.pk)
    return made


def enrolment_hand_set(*, enrolment: Enrolment, raised: bool) -> Enrolment:
    enrolment.hand_raised_at = timezone.now() if raised else None
    enrolment.save(update_fields=["hand_raised_at"])
    class_changed(class_id=enrolment.klass_id)
    return enrolment



def _reset_instance(*, klass: Class, student) -> LabInstance:
    """The student's instance made anew from the lab by the labs' own start:
    the old container (its writable layer) is deleted, the instance row and
    its check runs stay (results kept), params stay (derived from the student)."""
    instance = LabInstance.objects.select_related("container").filter(lab=klass.lab, student=student).first()
    if instance is None:
        raise ValidationError(f"{student.username} has not started the lab yet.")
    if instance.container is not None and not instance.container.is_gone:
        container_delete(container=instance.container)
    return lab_instance_start(lab=klass.lab, student=student)


@transaction.atomic
def enrolment_reset(*, enrolment: Enrolment) -> LabInstance:
    """The student's own "Reset lab", once they confirmed."""
    instance = _reset_instance(klass=enrolment.klass, student=enrolment.student)
    class_changed(class_id=enrolment.klass_id)
    return instance


def class_reset(*, klass: Class, by, student_ids: list[int] | None) -> dict[str, str]:
    """The teacher's or an assistant's reset of some students (None: all who
    started the lab), each in a transaction of its own -> username: what
    happened ("reset" or why not)."""
    if not classes_for_staff(user=by).filter(pk=klass.pk).exists():
        raise PermissionDenied("Only the class's teacher and assistants reset its students.")
    enrolments = klass.enrolments.select_related("student", "klass__lab")
    if student_ids is not None:
        enrolments = enrolments.filter(student_id__in=student_ids)
    outcome = {}
    for enrolment in enrolments:
        if student_ids is None and not LabInstance.objects.filter(lab=klass.lab, student=enrolment.student).exists():
            continue
        try:
            with transaction.atomic():
                _reset_instance(klass=klass, student=enrolment.student)
            outcome[enrolment.student.username] = "reset"
        except (ValidationError, PermissionDenied) as exc:
            outcome[enrolment.student.username] = " ".join(getattr(exc, "messages", [str(exc)]))
    class_changed(class_id=klass.pk)
    return outcome


def enrolment_resume(*, enrolment: Enrolment) -> None:
    """The student's "Resume lab": their suspended instance is thawed on its node."""
    if not enrolment_returned(enrolment=enrolment):
        raise ValidationError("Your lab is not suspended.")


def enrolment_returned(*, enrolment: Enrolment) -> bool:
    """The student is back (their lab's page asked): student_returned for
    their instance of the class's lab. Only the enrolment's own student's
    instance: the caller fetched the enrolment as that student."""
    instance = LabInstance.objects.select_related("container", "container__node").filter(
        lab_id=enrolment.klass.lab_id, student_id=enrolment.student_id).first()
    return bool(instance and instance.container) and student_returned(container=instance.container,
                                                                       student=enrolment.student)


def student_returned(*, container: Container, student) -> bool:
    """The student is back (their lab's page, or a shell they open in it): a
    suspended lab instance of theirs in `container` is thawed on its node ->
    whether one was."""
    instance = suspended_instance(container=container, student=student)
    if instance is None:
        return False
    queue = container.node.queue
    transaction.on_commit(lambda: tasks.class_instance_resume.apply_async(args=[instance.pk], queue=queue))
    for class_id in Enrolment.objects.filter(student=student, klass__lab_id=instance.lab_id).values_list(
            "klass_id", flat=True):
        class_changed(class_id=class_id)
    return True


@transaction.atomic
def enrolment_extend(*, enrolment: Enrolment, by) -> Enrolment:
    """More time before the time limit: the student a number of times (the
    class's student_extensions), the class's teacher or an assistant any."""
    klass = enrolment.klass
    if klass.time_limit_seconds is None:
        raise ValidationError("This class has no time limit.")
    enrolment = Enrolment.objects.select_for_update().get(pk=enrolment.pk)
    if by.pk == enrolment.student_id:
        if enrolment.extensions_used >= klass.student_extensions:
            raise ValidationError("You have used your extensions: ask your teacher.")
        enrolment.extensions_used += 1
    elif not classes_for_staff(user=by).filter(pk=klass.pk).exists():
        raise PermissionDenied("Only the student or the class's teachers extend it.")
    enrolment.extra_seconds += EXTEND_SECONDS
    enrolment.save(update_fields=["extensions_used", "extra_seconds"])
    class_changed(class_id=klass.pk)
    return enrolment
