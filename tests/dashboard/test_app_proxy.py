"""A container's web app through the node agent's proxy, on an origin of
its own per container and port: the owner gets through (WebSockets too),
the app never sees the proxy's cookie, another student gets a 404 and
cannot use a cookie of theirs on the owner's app, anonymous users are
sent to log in, a token works once, and a teacher gets through only once
the owner allows it."""

import base64
import os
import socket
import subprocess
import sys
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from app_testing import APP_BODY, APP_SCRIPT, app_host, header, open_app, proxy_request, start_echo_server, wait_listening
from class_helpers import make_class, make_lab
from dashboard.appproxy.models import AppShare
from dashboard.classes.models import Enrolment
from dashboard.containers.models import Container
from dashboard.containers.node import shared_runtime
from runtime import ContainerConfig, networks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def web_app(runtime_env, busybox_image, owner, node):
    """`owner`'s running container (app ports 8080 and 8081) with busybox
    httpd on 8080, on a network of the test's own; at the end the container
    goes, and runtime_env's teardown checks the network leaves nothing behind."""
    root = str(runtime_env.root)
    # A subnet of this test process's own: other test sessions on the machine make networks from the pool.
    subnet = f"10.{200 + os.getpid() % 50}.{os.getpid() // 50 % 256}.0/24"
    network = networks.create(root, f"apps{os.getpid() % 100000}", subnet=subnet)
    container = Container.objects.create(owner=owner, image=busybox_image, node=node, name="web",
                                         status=Container.Status.RUNNING, app_ports=[8080, 8081])
    rt = shared_runtime(root, runtime_env.cgroup_parent)
    state = rt.run(ContainerConfig(image=busybox_image.store_name, name=container.runtime_name,
                                   command=["sh", "-c", APP_SCRIPT], network=network.name))
    address = rt.inspect(container.runtime_name)["network"]["ip"]
    wait_listening(address, 8080)
    yield SimpleNamespace(container=container, pk=container.pk, pid=state.pid)
    # runtime_env's teardown then removes the network and fails the test on any link, table or DNS service left.
    rt.delete(container.runtime_name, force=True)


@pytest.fixture
def app_proxy(agent_process):
    """The real node agent, its app proxy listening."""
    wait_listening("127.0.0.1", settings.TERRARIUM_APPS_PORT, timeout=60)
    return agent_process


@pytest.fixture
def echo_server(web_app):
    """A WebSocket echo server on port 8081 of the web app's container."""
    proc = start_echo_server(web_app.pid, 8081)
    yield proc
    proc.kill()
    proc.wait()


def test_owner_gets_the_app_and_the_app_never_sees_the_proxy_cookie(web_app, app_proxy, owner, client_for):
    cookie = open_app(client_for(owner), web_app.pk, 8080)
    host = app_host(web_app.pk, 8080)

    status, _, body = proxy_request(host, "/", {"Cookie": cookie})
    assert (status, body.strip()) == (200, APP_BODY)
    status, _, body = proxy_request(host, "/cgi-bin/echo", {"Cookie": f"lang=en; {cookie}; theme=light"})
    assert (status, body.strip()) == (200, "cookie=lang=en; theme=light")


def test_the_proxy_cookie_is_host_only_and_the_app_cannot_set_it(web_app, app_proxy, owner, client_for):
    response = client_for(owner).get(f"/apps/{web_app.pk}/8080/")
    target = urlsplit(response["Location"])
    assert target.netloc == app_host(web_app.pk, 8080) and target.path == "/_terrarium/auth"
    status, headers, _ = proxy_request(target.netloc, f"{target.path}?{target.query}")
    assert (status, header(headers, "location")) == (302, ["/"])
    attributes = header(headers, "set-cookie")[0].split("; ")[1:]
    assert {"Path=/", "HttpOnly", "SameSite=Lax"} <= set(attributes)
    assert not [a for a in attributes if a.lower().startswith("domain")]

    cookie = header(headers, "set-cookie")[0].split(";")[0]
    status, headers, body = proxy_request(target.netloc, "/cgi-bin/cookies", {"Cookie": cookie})
    assert (status, body.strip()) == (200, "done")
    assert header(headers, "set-cookie") == ["theme=dark; Path=/"]


def test_websocket_echo_through_the_proxy(web_app, echo_server, app_proxy, owner, client_for):
    cookie = open_app(client_for(owner), web_app.pk, 8081)
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", settings.TERRARIUM_APPS_PORT), timeout=30) as sock:
        sock.sendall((f"GET /echo HTTP/1.1\r\nHost: {app_host(web_app.pk, 8081)}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      f"Origin: http://{app_host(web_app.pk, 8081)}\r\nCookie: {cookie}\r\n\r\n").encode())
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"HTTP/1.1 101 ")
        head = []
        while (line := reader.readline()) != b"\r\n":
            head.append(line.decode().strip())
        assert "X-Seen-Cookie:" in head
        mask = os.urandom(4)
        payload = b"ping through the proxy"
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))
        assert reader.read(2) == bytes([0x81, len(payload)])
        assert reader.read(len(payload)) == payload


def test_a_sibling_apps_page_cannot_send_requests_with_the_owners_cookie(
        web_app, app_proxy, owner, client_for):
    cookie = open_app(client_for(owner), web_app.pk, 8080)
    host = app_host(web_app.pk, 8080)

    status, _, _ = proxy_request(host, "/", {"Cookie": cookie, "Origin": f"http://{app_host(web_app.pk + 1, 8080)}"})
    assert status == 403
    status, _, _ = proxy_request(host, "/", {"Cookie": cookie, "Origin": f"http://{app_host(web_app.pk, 8081)}"})
    assert status == 200


def test_other_student_gets_404_and_cannot_use_their_cookie_on_the_owners_app(
        web_app, app_proxy, busybox_image, node, other_student, client_for):
    theirs = Container.objects.create(owner=other_student, image=busybox_image, node=node, name="theirs",
                                      status=Container.Status.RUNNING, app_ports=[8080])
    client = client_for(other_student)
    assert client.get(f"/apps/{web_app.pk}/8080/").status_code == 404
    cookie = open_app(client, theirs.pk, 8080)

    status, headers, body = proxy_request(app_host(web_app.pk, 8080), "/", {"Cookie": cookie})
    assert status == 302 and APP_BODY not in body
    assert header(headers, "location") == [f"{settings.TERRARIUM_DASHBOARD_URL}/apps/{web_app.pk}/8080/"]


def test_anonymous_is_sent_to_log_in(web_app, app_proxy, client_for):
    response = client_for(None).get(f"/apps/{web_app.pk}/8080/")
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/apps/{web_app.pk}/8080/"

    status, headers, body = proxy_request(app_host(web_app.pk, 8080), "/")
    assert status == 302 and APP_BODY not in body
    assert header(headers, "location") == [f"{settings.TERRARIUM_DASHBOARD_URL}/apps/{web_app.pk}/8080/"]


def test_logging_out_of_the_dashboard_closes_the_app(web_app, app_proxy, owner, client_for, wait_until):
    client = client_for(owner)
    cookie = open_app(client, web_app.pk, 8080)
    assert proxy_request(app_host(web_app.pk, 8080), "/", {"Cookie": cookie})[0] == 200

    client.logout()
    wait_until(lambda: proxy_request(app_host(web_app.pk, 8080), "/", {"Cookie": cookie})[0] == 302, timeout=10)


def test_a_used_token_is_refused(web_app, app_proxy, owner, client_for):
    target = urlsplit(client_for(owner).get(f"/apps/{web_app.pk}/8080/")["Location"])
    assert proxy_request(target.netloc, f"{target.path}?{target.query}")[0] == 302

    status, headers, _ = proxy_request(target.netloc, f"{target.path}?{target.query}")
    assert status == 403 and not header(headers, "set-cookie")


def test_a_token_for_another_app_is_refused(web_app, app_proxy, owner, client_for):
    target = urlsplit(client_for(owner).get(f"/apps/{web_app.pk}/8080/")["Location"])

    status, headers, _ = proxy_request(app_host(web_app.pk, 8081), f"{target.path}?{target.query}")
    assert status == 403 and not header(headers, "set-cookie")


def test_a_container_the_runtime_does_not_run_answers_502(web_app, app_proxy, owner, client_for, runtime_env):
    cookie = open_app(client_for(owner), web_app.pk, 8080)
    shared_runtime(str(runtime_env.root), runtime_env.cgroup_parent).stop(web_app.container.runtime_name, timeout=1)

    status, _, body = proxy_request(app_host(web_app.pk, 8080), "/", {"Cookie": cookie})
    assert status == 502 and APP_BODY not in body


def test_a_port_not_opened_is_404(web_app, owner, client_for):
    assert client_for(owner).get(f"/apps/{web_app.pk}/9090/").status_code == 404


def test_a_stopped_container_is_404(web_app, owner, client_for):
    Container.objects.filter(pk=web_app.pk).update(status=Container.Status.EXITED)

    assert client_for(owner).get(f"/apps/{web_app.pk}/8080/").status_code == 404


def test_teacher_gets_through_only_once_the_owner_allows_it(
        web_app, app_proxy, owner, teacher, node, client_for, wait_until):
    Enrolment.objects.create(klass=make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node)),
                             student=owner)
    teacher_client = client_for(teacher)
    assert teacher_client.get(f"/apps/{web_app.pk}/8080/").status_code == 404

    response = client_for(owner).post(f"/apps/{web_app.pk}/share/", {"teachers": "on"})
    assert response.status_code == 302
    assert AppShare.objects.get(container=web_app.container).teachers
    cookie = open_app(teacher_client, web_app.pk, 8080)
    assert proxy_request(app_host(web_app.pk, 8080), "/", {"Cookie": cookie})[2].strip() == APP_BODY

    client_for(owner).post(f"/apps/{web_app.pk}/share/", {})
    wait_until(lambda: proxy_request(app_host(web_app.pk, 8080), "/", {"Cookie": cookie})[0] == 302, timeout=10)


def test_a_teacher_of_no_class_of_the_owner_gets_404_even_when_shared(web_app, teacher, client_for):
    AppShare.objects.create(container=web_app.container, teachers=True)

    assert client_for(teacher).get(f"/apps/{web_app.pk}/8080/").status_code == 404


def test_only_the_owner_may_share(web_app, teacher, client_for):
    assert client_for(teacher).post(f"/apps/{web_app.pk}/share/", {"teachers": "on"}).status_code == 404
    assert not AppShare.objects.exists()


def test_an_unknown_host_is_404(app_proxy):
    assert proxy_request("127.0.0.1", "/")[0] == 404
    assert proxy_request("c1-8080.example.org", "/")[0] == 404


def test_requests_the_proxy_could_read_apart_from_the_app_are_refused(web_app, app_proxy, owner, client_for):
    cookie = open_app(client_for(owner), web_app.pk, 8080)
    host = app_host(web_app.pk, 8080)
    smuggled = [
        f"POST / HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nContent-Length: 4\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        f"GET / HTTP/1.1\nHost: {host}\nCookie: {cookie}\n\n",
        f"GET / HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nX-Big: {'a' * 70_000}\r\n\r\n",
    ]
    for request in smuggled:
        with socket.create_connection(("127.0.0.1", settings.TERRARIUM_APPS_PORT), timeout=30) as sock:
            sock.sendall(request.encode())
            assert sock.makefile("rb").readline().startswith(b"HTTP/1.1 400 "), request[:40]


@pytest.mark.browser
def test_the_owner_opens_the_app_in_chromium(web_app, app_proxy, owner, browser_page):
    page = browser_page(owner, forward=[settings.TERRARIUM_APPS_PORT])
    page.goto(f"/containers/{web_app.pk}/")

    page.goto(f"/apps/{web_app.pk}/8080/")
    assert urlsplit(page.url).netloc == app_host(web_app.pk, 8080)
    assert page.locator("body").inner_text().strip() == APP_BODY


@pytest.mark.parametrize("name, value, message", [
    ("TERRARIUM_APPS_DOMAIN", "apps.example.org/x", "TERRARIUM_APPS_DOMAIN must be a domain name"),
    ("TERRARIUM_APPS_PORT", "0", "TERRARIUM_APPS_PORT must be between"),
    ("TERRARIUM_APPS_BIND", "anywhere", "TERRARIUM_APPS_BIND must be an IP address"),
    ("TERRARIUM_DASHBOARD_URL", "ftp://dashboard", "TERRARIUM_DASHBOARD_URL must be http(s)://host[:port]"),
])
def test_a_bad_app_setting_stops_start_up_with_a_clear_message(name, value, message):
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, capture_output=True,
                            text=True, env={**os.environ, name: value, "DJANGO_SETTINGS_MODULE": "dashboard.settings"})
    assert result.returncode != 0
    assert message in result.stderr.strip().splitlines()[-1]


def test_the_share_form_shows_the_owner_the_setting_and_nobody_else(busybox_image, node, owner, teacher, rf):
    from django.template.loader import render_to_string

    container = Container.objects.create(owner=owner, image=busybox_image, node=node, name="web", app_ports=[8080])

    def form(user):
        request = rf.get("/")
        request.user = user
        return render_to_string("appproxy/_share.html", {"container": container, "user": user}, request)

    assert "Let teachers open my ports" in form(owner) and "checked" not in form(owner)
    assert f'action="/apps/{container.pk}/share/"' in form(owner) and ">Save</button>" in form(owner)
    AppShare.objects.create(container=container, teachers=True)
    container.refresh_from_db()
    assert "checked" in form(owner)
    assert form(teacher).strip() == ""


def test_a_web_server_launched_from_the_form_opens_from_its_container_page(
        launch_running, client_of, app_proxy, owner, busybox_image):
    # The whole path a student takes: the form's Ports, the worker's start on their network, the page's link.
    client = client_of(owner)
    web = launch_running(client, busybox_image, "web", "httpd -f -p 8080 -h /etc", ports="8080")
    page = client.get(f"/containers/{web.pk}/").content.decode()
    assert f'href="/apps/{web.pk}/8080/"' in page and f'data-container-ip="{web.ip_address}"' in page
    cookie = open_app(client, web.pk, 8080)
    status, _, body = proxy_request(app_host(web.pk, 8080), "/passwd", {"Cookie": cookie})
    assert (status, body.splitlines()[0]) == (200, "root:x:0:0:root:/root:/bin/sh")
