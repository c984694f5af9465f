"""The grid's memory and cpu sparklines: per container, the last
SPARK_SECONDS of the monitoring's 1-second samples (one Redis round trip for
the whole class), as the points of an SVG polyline WIDTH x HEIGHT, a point
per BUCKET_SECONDS (its highest value), and the last value as a label."""

from asgiref.sync import async_to_sync

from dashboard.monitoring.history import recent_samples

SPARK_SECONDS = 120
BUCKET_SECONDS = 5
WIDTH, HEIGHT = 48, 16


def _points(values: list[float | None], top: float) -> str:
    step = WIDTH / (len(values) - 1)
    return " ".join(f"{i * step:.1f},{HEIGHT - (v or 0) / top * HEIGHT:.1f}" for i, v in enumerate(values))


def _buckets(rows: list[dict], field: str, now: float) -> list[float | None]:
    buckets: list[float | None] = [None] * (SPARK_SECONDS // BUCKET_SECONDS)
    start = now - SPARK_SECONDS
    for row in rows:
        index = int((row["t"] - start) // BUCKET_SECONDS)
        value = row.get(field)
        if 0 <= index < len(buckets) and value is not None:
            buckets[index] = value if buckets[index] is None else max(buckets[index], value)
    return buckets


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def sparklines(container_ids: list[int], now: float) -> dict[int, dict]:
    """container id -> {"cpu", "memory": polyline points; "cpu_label", "memory_label"} for those with samples."""
    if not container_ids:
        return {}
    found = async_to_sync(recent_samples)(container_ids, SPARK_SECONDS, now=now)
    lines = {}
    for pk, rows in found.items():
        if not rows:
            continue
        cpu, memory = _buckets(rows, "cpu_percent", now), _buckets(rows, "memory_bytes", now)
        limit = rows[-1].get("memory_limit_bytes") or max((m for m in memory if m), default=0) or 1
        last = rows[-1]
        lines[pk] = {
            "cpu": _points(cpu, max(100.0, *(c or 0 for c in cpu))),
            "memory": _points(memory, max(limit, *(m or 0 for m in memory))),
            "cpu_label": f"{last.get('cpu_percent') or 0:.0f} %",
            "memory_label": _size(last.get("memory_bytes") or 0),
        }
    return lines
