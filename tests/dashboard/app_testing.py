"""Plain helpers for the app proxy tests: a web app in a container on a
network of the test's own (busybox httpd, a CGI that echoes what it was
sent and sets cookies), a WebSocket echo server run from the host in that
container's network namespace, and raw HTTP to the proxy on loopback."""

import http.client
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings

APP_BODY = "hello from the owner's app"
# The app: an index page, /cgi-bin/echo (the cookies and forwarded headers it
# got) and /cgi-bin/cookies (sets a cookie of its own with a Domain, and one
# with the proxy's cookie name), on port 8080.
APP_SCRIPT = f"""
mkdir -p /www/cgi-bin
echo "{APP_BODY}" > /www/index.html
printf '#!/bin/sh\\necho "Content-Type: text/plain"\\necho\\necho "cookie=$HTTP_COOKIE"\\n' > /www/cgi-bin/echo
printf '#!/bin/sh\\necho "Content-Type: text/plain"\\necho "Set-Cookie: theme=dark; Domain=localhost; Path=/"\\n' > /www/cgi-bin/cookies
printf 'echo "Set-Cookie: terrarium_app=forged; Path=/"\\necho\\necho done\\n' >> /www/cgi-bin/cookies
chmod 755 /www/cgi-bin/echo /www/cgi-bin/cookies
exec httpd -f -p 8080 -h /www
"""

# A WebSocket server that answers one handshake per connection and echoes one text frame.
ECHO_SERVER = """
import base64, hashlib, socket, sys
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen()
print("ready", flush=True)
while True:
    conn, _ = server.accept()
    with conn:
        f = conn.makefile("rb")
        f.readline()
        headers = {}
        while (line := f.readline()) not in (b"\\r\\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest()).decode()
        conn.sendall(("HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
                      f"Sec-WebSocket-Accept: {accept}\\r\\nX-Seen-Cookie: {headers.get('cookie', '')}\\r\\n\\r\\n").encode())
        first, second = f.read(2)
        mask = f.read(4)
        data = bytes(c ^ mask[i % 4] for i, c in enumerate(f.read(second & 0x7F)))
        conn.sendall(bytes([0x81, len(data)]) + data)
"""


def start_echo_server(container_pid: int, port: int) -> subprocess.Popen:
    """The WebSocket echo server, from the host's Python, in the container's network namespace."""
    proc = subprocess.Popen(["nsenter", f"--net=/proc/{container_pid}/ns/net", sys.executable, "-c", ECHO_SERVER,
                             str(port)], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    return proc


def wait_listening(address: str, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex((address, port)) == 0:
                return
        assert time.monotonic() < deadline, f"nothing listens on {address}:{port}"
        time.sleep(0.05)


def app_host(pk: int, port: int) -> str:
    return f"c{pk}-{port}.localhost:{settings.TERRARIUM_APPS_PORT}"


def proxy_request(host: str, path: str, headers: dict | None = None, method: str = "GET"):
    """(status, headers as a list of pairs, body text) of one request to the proxy as `host`."""
    conn = http.client.HTTPConnection("127.0.0.1", settings.TERRARIUM_APPS_PORT, timeout=30)
    try:
        conn.request(method, path, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read().decode()
    finally:
        conn.close()


def header(headers, name: str) -> list[str]:
    return [v for n, v in headers if n.lower() == name.lower()]


def open_app(client, pk: int, port: int) -> str:
    """Follows the dashboard's redirect through the proxy's auth path as the
    client's user: the proxy's cookie, as a Cookie header's name=value."""
    response = client.get(f"/apps/{pk}/{port}/")
    assert response.status_code == 302, response.status_code
    target = urlsplit(response["Location"])
    status, headers, _ = proxy_request(target.netloc, f"{target.path}?{target.query}")
    assert status == 302, status
    return header(headers, "set-cookie")[0].split(";")[0]
