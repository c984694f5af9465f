"""The browser tests' Chromium loads pages whole while the host's network
changes under it (the worker makes bridges, addresses and veths during a
test): it runs in a network namespace of its own (browser_netns), which
Chromium's NetworkChangeNotifier watches instead of the host's, so no load is
aborted with net::ERR_NETWORK_CHANGED."""

import http.server
import os
import subprocess
import threading

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCRIPTS = 24
LOADS = 12
# This test's own bridge and address, which nothing else on the host uses.
BRIDGE = f"netnstest{os.getpid() % 100000}"
ADDRESS = "10.255.254.1/32"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


class _BridgeFlapper:
    """Adds this test's bridge with an address, brings it up and removes it, over and over, until the end of `with`."""

    def __init__(self):
        self.flaps = 0
        self.error = None
        self._flapped = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def wait_for_next(self) -> None:
        """Returns once the bridge has come and gone again (or flapping is over)."""
        with self._flapped:
            seen = self.flaps
            self._flapped.wait_for(lambda: self.flaps > seen or self._stop.is_set() or self.error, timeout=60)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                _ip("link", "add", BRIDGE, "type", "bridge")
                try:
                    _ip("addr", "add", ADDRESS, "dev", BRIDGE)
                    _ip("link", "set", BRIDGE, "up")
                finally:
                    _ip("link", "del", BRIDGE)
                with self._flapped:
                    self.flaps += 1
                    self._flapped.notify_all()
                self._stop.wait(0.02)
        except subprocess.CalledProcessError as error:
            self.error = f"{error.cmd}: {error.stderr}"
        with self._flapped:
            self._flapped.notify_all()


class _ScriptsAcrossFlaps(http.server.BaseHTTPRequestHandler):
    """A page of many scripts, each answered only once the host's network has
    changed again: most of them wait for one of Chromium's six connections
    while it changes, as a dashboard page's do while the worker makes a bridge."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/":
            tags = "".join(f'<script src="/script/{n}.js"></script>' for n in range(SCRIPTS))
            self._send("text/html", f"<!doctype html><title>scripts</title>{tags}<p>end</p>")
        else:
            self.server.flapper.wait_for_next()
            self._send("text/javascript", "window.arrived = (window.arrived || 0) + 1;")

    def _send(self, kind: str, body: str) -> None:
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def flapper():
    with _BridgeFlapper() as flapping:
        yield flapping
    assert BRIDGE not in os.listdir("/sys/class/net")


@pytest.fixture
def scripts_server(flapper):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ScriptsAcrossFlaps)
    server.daemon_threads = True
    server.flapper = flapper
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_every_load_is_whole_while_the_hosts_network_changes(browser_page, scripts_server, flapper):
    port = scripts_server.server_address[1]
    page = browser_page(forward=[port])
    failed, arrived = [], []
    page.on("requestfailed", lambda request: failed.append(f"{request.url}: {request.failure}"))
    for _ in range(LOADS):
        try:
            page.goto(f"http://127.0.0.1:{port}/")
            arrived.append(page.evaluate("window.arrived"))
        except Exception as error:
            failed.append(str(error).splitlines()[0])
    assert flapper.error is None
    assert failed == []
    assert arrived == [SCRIPTS] * LOADS
