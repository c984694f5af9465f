from django.contrib import admin

from dashboard.nodes.models import Node


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ["name", "cpus", "memory_bytes", "memory_free_bytes", "load1", "cgroup_version", "heartbeat_at"]
