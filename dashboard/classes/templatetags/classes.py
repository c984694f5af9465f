from django import template

from dashboard.classes.selectors import enrolment_for_lab, enrolment_limits_view, enrolments_of

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """12 s, 3 min 20 s, 1 h 5 min; empty for None."""
    if seconds is None or seconds == "":
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@register.inclusion_tag("classes/_your_classes.html", takes_context=True)
def your_classes(context):
    """The home page's list of the user's classes (as a student)."""
    user = context["request"].user
    return {"enrolments": enrolments_of(student=user) if user.is_authenticated else []}


@register.inclusion_tag("classes/_controls.html", takes_context=True)
def class_controls(context, lab):
    """For a lab page: the student's controls in their class of this lab (nothing outside a class):
    raised hand, reset, and the class's limits (suspended: Resume; when it stops: Extend)."""
    return enrolment_controls(context, enrolment_for_lab(student=context["request"].user, lab_id=lab.pk))


@register.inclusion_tag("classes/_controls.html", takes_context=True)
def enrolment_controls(context, enrolment):
    """The same controls for one enrolment (the student's class page)."""
    return {"enrolment": enrolment, "limits": enrolment and enrolment_limits_view(enrolment=enrolment),
            "csrf_token": context.get("csrf_token"), "next": context["request"].path}
