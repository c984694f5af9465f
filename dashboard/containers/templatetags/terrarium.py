"""Display helpers shared by the dashboard's pages."""

import shlex

from django import template

register = template.Library()


@register.filter
def bytes_human(value) -> str:
    if value in (None, ""):
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def limits_text(memory_bytes, cpus, pids_limit, disk_bytes=None) -> str:
    parts = []
    if memory_bytes:
        parts.append(f"{bytes_human(memory_bytes)} memory")
    if cpus:
        parts.append(f"{cpus:g} cpus")
    if pids_limit:
        parts.append(f"{pids_limit} pids")
    if disk_bytes:
        parts.append(f"{bytes_human(disk_bytes)} disk")
    return ", ".join(parts) or "none"


@register.filter
def limits(container) -> str:
    return limits_text(container.memory_bytes, container.cpus, container.pids_limit, container.disk_bytes)


@register.filter
def shell_join(command) -> str:
    return shlex.join(command or [])
