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


@register.filter
def limits(container) -> str:
    parts = []
    if container.memory_bytes:
        parts.append(f"{bytes_human(container.memory_bytes)} memory")
    if container.cpus:
        parts.append(f"{container.cpus:g} cpus")
    if container.pids_limit:
        parts.append(f"{container.pids_limit} pids")
    return ", ".join(parts) or "none"


@register.filter
def shell_join(command) -> str:
    return shlex.join(command or [])
