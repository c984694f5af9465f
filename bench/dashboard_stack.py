"""The real Terrarium stack for the dashboard benchmarks, in a private temp dir:
its own Redis, SQLite database, runtime root, cgroup parent and node name, a
Celery runtime worker, Daphne and, when asked, the node agent (heartbeat,
sampler, shell PTY owner). Run alone, it starts the stack and waits
(Ctrl-C stops it), for poking at it by hand."""

import contextlib
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"{what} did not start")


def configure(tmp: Path) -> dict:
    """Environment for this process and the stack's; Django is set up here too."""
    redis_port = free_port()
    env = {
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "TERRARIUM_STATE_DIR": str(tmp / "state"),
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "NODE_NAME": f"bench-{uuid.uuid4().hex[:6]}",
        "TERRARIUM_ROOT": str(tmp / "root"),
        "TERRARIUM_CGROUP_PARENT": f"terrarium-bench-{uuid.uuid4().hex[:6]}",
        "UPLOAD_DIR": str(tmp / "uploads"),
        "CONTAINER_STOP_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    return {**os.environ, **env, "redis_port": str(redis_port)}


def seed(password: str):
    """Migrations, a teacher (no quota), this node and a ready busybox image."""
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from dashboard.images.models import Image
    from dashboard.nodes.services import node_heartbeat, node_worker_seen
    from runtime.image import busybox
    from runtime.image.store import ImageStore

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench", password=password)
    user.groups.add(Group.objects.get_or_create(name="teachers")[0])
    node = node_heartbeat(name=settings.NODE_NAME)
    node_worker_seen(name=settings.NODE_NAME)
    tarball = busybox.write_tarball(Path(os.environ["TERRARIUM_ROOT"]).parent / "busybox.tar")
    info = ImageStore(root=settings.TERRARIUM_ROOT).import_archive(str(tarball), name="busybox-bench")
    image = Image.objects.create(
        name="busybox", owner=user, node=node, status="ready", store_name="busybox-bench", runtime_id=info.id,
        visibility="shared",
    )
    return user, node, image


class Session:
    """A logged-in browser-like HTTP session (cookies and CSRF)."""

    def __init__(self, base: str, username: str, password: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.get("/login/")
        self.post("/login/", {"username": username, "password": password})

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def get(self, path: str):
        with self.opener.open(self.base + path) as response:
            return response.status, response.geturl(), response.read()

    def post(self, path: str, data: dict):
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.csrf()}).encode()
        request = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + path})
        with self.opener.open(request) as response:
            return response.status, response.geturl(), response.read()


@contextlib.contextmanager
def stack(*, worker: bool = True, web: bool = True, agent: bool = False):
    with tempfile.TemporaryDirectory(prefix="terrarium-bench-") as tmp:
        tmp = Path(tmp)
        env = configure(tmp)
        procs = [subprocess.Popen(
            ["redis-server", "--port", env["redis_port"], "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp)], stdout=subprocess.DEVNULL, start_new_session=True,
        )]
        try:
            wait_port(int(env["redis_port"]), procs[0], "redis")
            password = uuid.uuid4().hex
            user, node, image = seed(password)
            if worker:
                procs.append(subprocess.Popen(
                    [PYTHON, "-W", "ignore", "-m", "celery", "-A", "dashboard", "worker", "-Q", f"node.{env['NODE_NAME']}",
                     "--pool", "threads", "--concurrency", "4", "--loglevel", "WARNING",
                     "--without-gossip", "--without-mingle", "--without-heartbeat"],
                    cwd=REPO, env=env, stdout=subprocess.DEVNULL, start_new_session=True,
                ))
            url = None
            if web:
                port = free_port()
                procs.append(subprocess.Popen(
                    [PYTHON, "-m", "dashboard.webserver", "-b", "127.0.0.1", "-p", str(port)],
                    cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                ))
                wait_port(port, procs[-1], "daphne")
                url = f"http://127.0.0.1:{port}"
            if agent:
                _start_agent(env, procs)
            yield type("Stack", (), {"url": url, "user": user, "node": node, "image": image, "password": password})
        finally:
            _cleanup_runtime()
            for proc in reversed(procs):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
            _remove_cgroup_parent(os.environ["TERRARIUM_CGROUP_PARENT"])


def _start_agent(env: dict, procs: list) -> None:
    """The node agent, waited for until its first heartbeat is in: its
    components start together, so by then its shell component listens too."""
    from dashboard.nodes.models import Node

    before = Node.objects.get(name=env["NODE_NAME"]).heartbeat_at
    proc = subprocess.Popen(
        [PYTHON, "manage.py", "node_agent", "--node", env["NODE_NAME"]],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, start_new_session=True,
    )
    procs.append(proc)
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"the node agent exited with {proc.returncode}")
        if Node.objects.get(name=env["NODE_NAME"]).heartbeat_at != before:
            return
        time.sleep(0.05)
    raise SystemExit("the node agent sent no heartbeat")


def _cleanup_runtime() -> None:
    from dashboard.containers.node import shared_runtime
    from runtime.lifecycle import Runtime

    rt = Runtime(root=os.environ["TERRARIUM_ROOT"], cgroup_parent=os.environ["TERRARIUM_CGROUP_PARENT"])
    for state in rt.list(all=True):
        rt.delete(state.id, force=True)
    # The forker of this process's launches keeps its spares' cgroups under
    # the parent: it goes first, or the parent is left behind (empty).
    shared_runtime(os.environ["TERRARIUM_ROOT"], os.environ["TERRARIUM_CGROUP_PARENT"]).close()
    shared_runtime.cache_clear()


def _remove_cgroup_parent(parent: str) -> None:
    base = Path("/sys/fs/cgroup")
    for d in [base / parent, *base.glob(f"*/{parent}")]:
        for child in sorted(d.glob("**/"), key=lambda p: len(str(p)), reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(child)


def container_id_from(url: str) -> int:
    return int(re.search(r"/containers/(\d+)/", url).group(1))


if __name__ == "__main__":
    with stack() as s:
        print(f"{s.url}  user bench  password {s.password}  (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
