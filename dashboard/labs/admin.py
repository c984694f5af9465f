from django.contrib import admin

from dashboard.labs.models import ApiToken, CheckRun, Lab, LabInstance


@admin.register(Lab)
class LabAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "image", "assigned_to_all", "shared_with_teachers", "created_at"]
    list_filter = ["assigned_to_all", "shared_with_teachers"]
    search_fields = ["title", "owner__username"]
    # The params' secret and the upload stay out of forms.
    exclude = ["secret", "source"]
    readonly_fields = ["definition", "self_test", "self_test_container"]


class CheckRunInline(admin.TabularInline):
    model = CheckRun
    extra = 0
    readonly_fields = ["step_id", "state", "requested_at", "duration", "exit_code", "message"]
    exclude = ["output", "requested_by", "started_at", "truncated"]


@admin.register(LabInstance)
class LabInstanceAdmin(admin.ModelAdmin):
    list_display = ["lab", "student", "status", "container", "created_at"]
    list_filter = ["status"]
    search_fields = ["lab__title", "student__username"]
    readonly_fields = ["setup_output"]
    inlines = [CheckRunInline]


@admin.register(CheckRun)
class CheckRunAdmin(admin.ModelAdmin):
    list_display = ["instance", "step_id", "state", "requested_at", "duration", "exit_code"]
    list_filter = ["state"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at"]
    readonly_fields = ["digest", "prefix", "last_used_at"]
