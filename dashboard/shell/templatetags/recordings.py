"""`{% load recordings %}{% instance_recordings instance %}`: a lab
instance's shell recordings on its teacher's page (nothing for anyone who
may not see them)."""

from django import template

from dashboard.shell.selectors import instance_recordings as recordings_of

register = template.Library()


@register.inclusion_tag("shell/_instance_recordings.html", takes_context=True)
def instance_recordings(context, instance):
    return {"recordings": recordings_of(user=context["request"].user, instance=instance)}
