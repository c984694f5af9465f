from django.contrib import admin

from dashboard.accounts.models import PasswordChangeRequired, Quota


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ["user", "max_containers", "max_memory_bytes", "max_cpus", "pids_limit", "disk_bytes", "max_shells",
                    "max_images", "max_image_bytes"]


@admin.register(PasswordChangeRequired)
class PasswordChangeRequiredAdmin(admin.ModelAdmin):
    list_display = ["user"]
