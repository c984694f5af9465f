from django.contrib import admin

from dashboard.containers.models import Container, Event
from dashboard.shell.models import ShellSession


class EventInline(admin.TabularInline):
    model = Event
    extra = 0
    readonly_fields = ["kind", "at", "data"]


class ShellSessionInline(admin.TabularInline):
    model = ShellSession
    extra = 0
    readonly_fields = ["key", "user", "opened_at", "closed_at", "exit_code"]


@admin.register(Container)
class ContainerAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "image", "node", "status", "memory_bytes", "cpus", "created_at"]
    list_filter = ["status", "node"]
    search_fields = ["name", "owner__username"]
    inlines = [EventInline, ShellSessionInline]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["container", "kind", "at"]
    list_filter = ["kind"]
