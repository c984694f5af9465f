"""Server time of the containers page with 200 containers (a teacher sees them
all): median of 50 renders through Django's request handling, no network."""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_stack import stack  # noqa: E402

CONTAINERS = 200
RENDERS = 50


def main() -> None:
    with stack(worker=False, web=False) as s:
        from django.test import Client

        from dashboard.containers.models import Container

        Container.objects.bulk_create(
            Container(owner=s.user, image=s.image, node=s.node, name=f"c{i}", status="running", command=["sleep", "600"],
                      memory_bytes=64 << 20, cpus=0.5)
            for i in range(CONTAINERS)
        )
        client = Client()
        client.force_login(s.user)
        assert client.get("/").content.count(b'data-container-id="') == CONTAINERS
        times = []
        for _ in range(RENDERS):
            start = time.perf_counter()
            response = client.get("/")
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        print(f"containers page with {CONTAINERS} containers ({RENDERS} renders): "
              f"median {statistics.median(times):.1f} ms server time (target <= 100 ms)")


if __name__ == "__main__":
    main()
