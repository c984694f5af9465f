from django.contrib import admin

from dashboard.classes.models import Class, Enrolment


@admin.register(Class)
class ClassAdmin(admin.ModelAdmin):
    list_display = ["name", "lab", "owner", "seats", "self_registration", "created_at"]
    search_fields = ["name", "owner__username"]
    filter_horizontal = ["assistants"]


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ["student", "klass", "joined_at", "hand_raised_at", "extra_seconds"]
    search_fields = ["student__username", "klass__name"]
