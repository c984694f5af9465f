"""From the new-container form's POST to the container shown as running,
through the real stack (Daphne, Redis, the Celery worker, the runtime):
median over 25 launches. The target is 300 ms on the reference machine."""

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_stack import Session, container_id_from, stack  # noqa: E402

LAUNCHES = 25


def main() -> None:
    with stack() as s:
        web = Session(s.url, "bench", s.password)
        times = []
        for n in range(LAUNCHES + 1):
            start = time.perf_counter()
            _, url, _ = web.post("/containers/new/", {"image": s.image.id, "name": f"b{n}", "command": "sleep 600", "memory_limit": "64m"})
            cid = container_id_from(url)
            while True:
                state = json.loads(web.get(f"/containers/{cid}/status.json")[2])
                if state["status"] == "running":
                    break
                if state["status"] == "failed":
                    raise SystemExit(f"launch failed: {state['detail']}")
                time.sleep(0.002)
            if n:  # the first launch warms caches and connections
                times.append((time.perf_counter() - start) * 1000)
            web.post(f"/containers/{cid}/delete/", {})
        print(f"dashboard launch (form POST -> running, {LAUNCHES} launches): "
              f"median {statistics.median(times):.0f} ms, min {min(times):.0f} ms, max {max(times):.0f} ms (target <= 300 ms)")


if __name__ == "__main__":
    main()
