"""The host's own figures for the overview's host panel."""

import os
import time

import psutil


def figures(state_root, containers: int) -> dict:
    memory = psutil.virtual_memory()
    root = str(state_root) if os.path.exists(str(state_root)) else "/"
    disk = psutil.disk_usage(root)
    load1, load5, load15 = os.getloadavg()
    return {
        "t": round(time.time(), 3),
        # Since the previous call: the sampler calls it once per tick.
        "cpu_percent": psutil.cpu_percent(interval=None),
        "cpus": psutil.cpu_count() or 1,
        "memory_bytes": memory.total - memory.available,
        "memory_total_bytes": memory.total,
        "load1": round(load1, 2),
        "load5": round(load5, 2),
        "load15": round(load15, 2),
        "disk_used_bytes": disk.used,
        "disk_total_bytes": disk.total,
        "containers": containers,
    }
