"""Fixtures for dashboard tests: named personas, logged-in clients, this node,
a private runtime state root and cgroup parent, a ready busybox image, a
running container, and the real processes (Celery worker, Daphne, the node
agent's shell component in the test's loop or as a subprocess).

The worker and Daphne are separate processes sharing the test database, which
is therefore a file; tests that use them are marked
``@pytest.mark.django_db(transaction=True)``."""

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from channels.layers import channel_layers
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client

from dashboard.accounts.roles import TEACHERS_GROUP
from dashboard.images.node import image_fields_from
from dashboard.shell import agent
from browser_netns import BrowserNamespace
from loop_devices import backed_under
from processes import process_env, start_node_agent, stop_group

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def _user(django_user_model, name, **extra):
    return django_user_model.objects.create_user(username=name, password=f"pw-{name}", **extra)


@pytest.fixture
def owner(django_user_model):
    return _user(django_user_model, "owner")


@pytest.fixture
def other_student(django_user_model):
    return _user(django_user_model, "other_student")


@pytest.fixture
def teacher(django_user_model):
    user = _user(django_user_model, "teacher")
    user.groups.add(Group.objects.get_or_create(name=TEACHERS_GROUP)[0])
    return user


@pytest.fixture
def second_teacher(django_user_model):
    """A teacher who owns nothing of `teacher`'s: their labs, classes and recordings are a 404."""
    user = _user(django_user_model, "second_teacher")
    user.groups.add(Group.objects.get_or_create(name=TEACHERS_GROUP)[0])
    return user


@pytest.fixture
def assistant(django_user_model):
    """A student account a class may make its assistant."""
    return _user(django_user_model, "assistant")


@pytest.fixture
def web_user():
    """A system account of this test's own, standing in for `make run`'s web user `terrarium`."""
    name = f"trm-web-{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    yield name
    subprocess.run(["userdel", name], check=True)


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(username="admin", password="pw-admin", email="")


@pytest.fixture
def client_for():
    """client_for(user) -> a Django test client logged in as user (None: anonymous)."""

    def make(user=None):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def session_cookie_for():
    """session_cookie_for(user) -> the value of a `sessionid` cookie for user,
    valid for the live server too (sessions live in the shared database)."""

    def make(user):
        client = Client()
        client.force_login(user)
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    return make


@pytest.fixture
def node():
    """This machine's Node row, fresh heartbeat from the agent and the worker."""
    from dashboard.nodes.services import node_heartbeat, node_worker_seen

    node_heartbeat(name=settings.NODE_NAME)
    node_worker_seen(name=settings.NODE_NAME)
    from dashboard.nodes.models import Node

    return Node.objects.get(name=settings.NODE_NAME)


# ---- the runtime ----


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve())
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


def _cgroups_under(parent: str) -> list[str]:
    """Containers' cgroups under the parent; not the spares of the forkers
    that the session's worker and this process keep (they leave with them)."""
    from runtime.forker.server import SPARE_CGROUP_PREFIX

    base = Path("/sys/fs/cgroup")
    dirs = [base / parent, *base.glob(f"*/{parent}")]
    return sorted(str(child) for d in dirs if d.is_dir() for child in d.iterdir()
                  if child.is_dir() and not child.name.startswith(SPARE_CGROUP_PREFIX))


def _remove_cgroup_parent(parent: str) -> None:
    base = Path("/sys/fs/cgroup")
    for d in [base / parent, *base.glob(f"*/{parent}")]:
        for child in sorted(d.glob("**/"), key=lambda p: len(str(p)), reverse=True):
            try:
                os.rmdir(child)
            except OSError:
                pass


@pytest.fixture(scope="session")
def runtime_session(tmp_path_factory):
    """One state root and cgroup parent for the whole session (the worker is per session)."""
    root = tmp_path_factory.mktemp("terrarium-root")
    parent = f"terrarium-test-{uuid.uuid4().hex[:8]}"
    yield SimpleNamespace(root=root, cgroup_parent=parent)
    # This process's own Runtime (the services', one per root): its forker
    # and spares go now, so that their cgroups are gone with the parent.
    from dashboard.containers.node import shared_runtime

    shared_runtime(str(root), parent).close()
    shared_runtime.cache_clear()
    _remove_cgroup_parent(parent)
    left = backed_under(root)
    assert not left, f"loop devices left behind: {left}"


@pytest.fixture
def runtime_env(runtime_session, monkeypatch, settings):
    """TERRARIUM_ROOT and TERRARIUM_CGROUP_PARENT for this test (env and settings).
    At the end it removes any container the test left and fails the test if it
    left containers, mounts or cgroups."""
    monkeypatch.setenv("TERRARIUM_ROOT", str(runtime_session.root))
    monkeypatch.setenv("TERRARIUM_CGROUP_PARENT", runtime_session.cgroup_parent)
    # Names the networks' DNS does not know go nowhere (the loopback), as in tests/runtime.
    monkeypatch.setenv("TERRARIUM_DNS_UPSTREAM", "127.0.0.1")
    settings.TERRARIUM_ROOT = str(runtime_session.root)
    yield runtime_session
    from runtime import Runtime

    rt = Runtime(root=runtime_session.root, cgroup_parent=runtime_session.cgroup_parent)
    leftovers = [state.name for state in rt.list(all=True)]
    for name in leftovers:
        rt.delete(name, force=True)
    networks_left_behind(str(runtime_session.root))
    mounts, cgroups = _mounts_under(runtime_session.root), _cgroups_under(runtime_session.cgroup_parent)
    # Every container's disk (runtime.isolation.layerdisk) goes with its last process.
    loops = backed_under(runtime_session.root)
    assert not leftovers, f"containers left behind: {leftovers}"
    assert not mounts, f"mounts left behind: {mounts}"
    assert not loops, f"loop devices left behind: {loops}"
    assert not cgroups, f"cgroups left behind: {cgroups}"


def networks_left_behind(root: str) -> None:
    """Every network of the root removed (the dashboard's containers made
    them); the test fails if one of their bridges or veths, the root's
    nftables tables or its DNS service is left."""
    from runtime.network import addresses, dns, networks, policy
    from runtime.network.store import NetworkStore

    subnets = [n.subnet for n in NetworkStore(root).list()]
    ours = {f"tb-{n.id[:8]}" for n in NetworkStore(root).list()}
    ours |= {addresses.port_name(a) for subnet in subnets for a in addresses.hosts(subnet)}
    networks.prune(root)
    assert not NetworkStore(root).names(), "networks left"
    # A container's veth goes with its network namespace, a moment after its exit.
    deadline = time.monotonic() + 10
    while (left := ours & set(os.listdir("/sys/class/net"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"links left: {left}"
    tables = subprocess.run(["nft", "list", "tables"], check=True, capture_output=True, text=True).stdout
    assert policy.table_name(root) not in tables, "nftables tables left"
    while dns.running(root) and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    assert not dns.running(root), "the DNS service still runs"


def _empty(directory: Path) -> None:
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@pytest.fixture
def uploads(settings, runtime_session):
    """UPLOAD_DIR, the same for this process and the session's worker, empty at the start and the end."""
    settings.UPLOAD_DIR = runtime_session.root.parent / "uploads"
    settings.UPLOAD_DIR.mkdir(exist_ok=True)
    _empty(settings.UPLOAD_DIR)
    yield settings.UPLOAD_DIR
    _empty(settings.UPLOAD_DIR)


@pytest.fixture
def recording_dir(settings, runtime_session):
    """RECORDING_DIR, the same for this process and the node agent's, empty at the start and the end."""
    settings.RECORDING_DIR = runtime_session.root.parent / "recordings"
    settings.RECORDING_DIR.mkdir(mode=0o700, exist_ok=True)
    _empty(settings.RECORDING_DIR)
    yield settings.RECORDING_DIR
    _empty(settings.RECORDING_DIR)


BUSYBOX_STORE_NAME = "busybox-test"


@pytest.fixture
def busybox_image(runtime_env, busybox_tar, owner, node):
    """A ready, shared busybox Image owned by `owner`, present in the runtime's store."""
    from runtime import ImageStore, NotFound

    from dashboard.images.models import Image

    store = ImageStore(root=runtime_env.root)
    try:
        info = store.get(BUSYBOX_STORE_NAME)
    except NotFound:
        info = store.import_archive(str(busybox_tar), name=BUSYBOX_STORE_NAME)
    return Image.objects.create(
        name="busybox",
        owner=owner,
        visibility=Image.Visibility.SHARED,
        node=node,
        status=Image.Status.READY,
        store_name=BUSYBOX_STORE_NAME,
        **image_fields_from(info),
    )


@pytest.fixture
def running_container(busybox_image, owner, node):
    """`owner`'s container running `sleep 3600` in the real runtime (launched in
    this process, no worker needed); stopped and deleted at the end."""
    from runtime import NotFound, Runtime

    from dashboard.containers.models import Container, Event
    from dashboard.containers.node import container_launch_on_node
    from dashboard.containers.events import event_record

    container = Container.objects.create(
        owner=owner, image=busybox_image, node=node, name="sleeper", command=["sleep", "3600"],
        memory_bytes=64 << 20, cpus=0.5, pids_limit=64,
    )
    event_record(container=container, kind=Event.Kind.CREATED)
    container_launch_on_node(container_id=container.id)
    container.refresh_from_db()
    assert container.status == "running", container.status_detail
    yield container
    try:
        Runtime(root=settings.TERRARIUM_ROOT).delete(container.runtime_name, force=True)
    except NotFound:
        pass


# ---- real processes ----


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, what: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready:\n{log.read_text()[-4000:]}")


def start_worker(runtime_session, log: Path, node_name: str | None = None) -> subprocess.Popen:
    """A real Celery runtime worker (root) consuming node.<node_name>."""
    node_name = node_name or settings.NODE_NAME
    env = process_env(runtime_session, NODE_NAME=node_name)
    cmd = [PYTHON, "-m", "celery", "-A", "dashboard", "worker", "-Q", f"node.{node_name}",
           "--pool", "threads", "--concurrency", "4", "--hostname", f"{node_name}@%h", "--loglevel", "INFO",
           "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    # Ready once its first reconcile is over: that one queues again whatever is
    # starting on the node, a container this test is launching in-process included.
    _wait_for(lambda: b"work in flight at the last stop reconciled" in log.read_bytes(), "celery worker", proc, log)
    return proc


@pytest.fixture(scope="session")
def worker_process(django_db_setup, runtime_session, tmp_path_factory):
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    proc = start_worker(runtime_session, log)
    yield SimpleNamespace(proc=proc, log=log)
    stop_group(proc)


@pytest.fixture
def start_node_worker(runtime_env, tmp_path):
    """start_node_worker(node_name) -> a second node's real worker, stopped at the end of the test."""
    started = []

    def start(node_name: str) -> subprocess.Popen:
        started.append(start_worker(runtime_env, tmp_path / f"worker-{node_name}.log", node_name=node_name))
        return started[-1]

    yield start
    for proc in started:
        stop_group(proc)


@pytest.fixture
def client_of(client_for):
    """client_of(user) -> client_for(user) that knows its user (client.user)."""

    def make(user):
        client = client_for(user)
        client.user = user
        return client

    return make


@pytest.fixture
def launch_running(launched, wait_until):
    """launch_running(client, image, name, command="sleep 3600", **fields) -> the Container the new-container
    form made for client.user (client_of), once the worker runs it."""
    from django.urls import reverse

    from dashboard.containers.models import Container

    def launch(client, image, name, command="sleep 3600", **fields):
        data = {"image": image.id, "name": name, "command": command, "memory_limit": "64m", **fields}
        response = client.post(reverse("containers:new"), data)
        assert response.status_code == 302, response.content.decode()[-2000:]
        container = Container.objects.exclude(status="deleted").get(owner=client.user, name=name)
        wait_until(lambda: Container.objects.get(id=container.id).status in ("running", "failed"))
        container.refresh_from_db()
        assert container.status == "running", container.status_detail
        return container

    return launch


@pytest.fixture
def launched(worker):
    """The containers a test launches through the worker are deleted from the runtime at the end."""
    yield
    from dashboard.containers.node import node_runtime

    for state in node_runtime().list(all=True):
        node_runtime().delete(state.id, force=True)


@pytest.fixture
def worker(worker_process, runtime_env, node):
    """The session's real Celery worker for this node (root, same DB, Redis and runtime)."""
    return worker_process


@pytest.fixture(autouse=True)
def _live_server_helper():
    """Replaces pytest-django's helper, which expects its own in-process live_server."""
    yield


@pytest.fixture(scope="session")
def live_server(django_db_setup, runtime_session, tmp_path_factory):
    """The web server (Daphne, dashboard.webserver) serving the dashboard in a subprocess on a free port (`.url`)."""
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    port = _free_port()
    env = process_env(runtime_session)
    cmd = [PYTHON, "-m", "dashboard.webserver", "-b", "127.0.0.1", "-p", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def listening():
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    _wait_for(listening, "daphne", proc, log)
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", port=port, proc=proc, log=log)
    stop_group(proc)


def _wait_until(predicate, timeout: float = 60, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


@pytest.fixture
def wait_until():
    """wait_until(predicate, timeout=60) -> predicate's truthy value: waits on other processes."""
    return _wait_until


@pytest.fixture
async def shell_agent(runtime_env, node):
    """The node agent's shell component in this test's event loop. Channel
    layers hold locks bound to the loop that made them: each test gets its own."""
    channel_layers.backends.clear()
    task = asyncio.create_task(agent.run(node.name))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    channel_layers.backends.clear()


@pytest.fixture
def agent_process(runtime_env, node, tmp_path):
    """The real node agent (heartbeat, sampler, PTY owner) as a subprocess."""
    proc = start_node_agent(runtime_env, node.name, tmp_path / "agent.log")
    yield proc
    stop_group(proc)


@pytest.fixture
def browser_page(live_server, session_cookie_for, monkeypatch, tmp_path):
    """browser_page(user=None, width=1200, forward=()) -> a headless Chromium page on the live server, logged in as
    user (None: anonymous). Chromium runs in a network namespace of its own (browser_netns), where the host's
    network changes cannot abort its loads; 127.0.0.1:<port> there leads to the host's for the live server's port
    and each port in `forward`. The test fails if a process, thread or socket of the namespace is left."""
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM is only used around it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # expect() waits 5 s by default, less than a check or a start takes on a loaded machine; as long as the pages'.
    expect.set_options(timeout=30_000)
    namespace = BrowserNamespace(tmp_path)
    try:
        namespace.forward(live_server.port)
        with sync_playwright() as p:
            browser = namespace.launch(p)

            def login(user=None, width=1200, forward=()):
                for port in forward:
                    namespace.forward(port)
                context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 900})
                if user is not None:
                    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie_for(user),
                                          "url": live_server.url}])
                context.set_default_timeout(30_000)
                return context.new_page()

            yield login
            browser.close()
    finally:
        left = namespace.close()
    assert not left, f"left behind by the browser's network namespace: {left}"
