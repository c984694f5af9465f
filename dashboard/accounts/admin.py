from django.contrib import admin

from dashboard.accounts.models import Quota


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ["user", "max_containers", "max_memory_bytes", "max_cpus"]
