"""Request bodies judged by the web server before it stores them. Twisted writes a
body to a temporary file as it arrives (Request.gotLength), and Django's ASGI
handler copies it into another before any middleware or view runs, whatever the
path and whoever sends it. BoundedRequest decides as soon as the headers are in:

- a body larger than its path's limit is answered 413 and the connection closed,
  unread; a chunked body (no Content-Length) is counted as it arrives and cut at
  the limit. The upload form (a POST to images:new) may send UPLOAD_MAX_BYTES and
  its multipart framing; every other request DATA_UPLOAD_MAX_MEMORY_SIZE;
- the upload form's body is read only once upload_refusal says it comes from an
  active user's session with a valid X-CSRFToken header; else 403, unread. That
  check reads the session from the database, so it runs in a thread: a slow or
  locked database must not stall the reactor, which serves every shell and graph.
  Meanwhile the connection is paused and what already arrived is held in memory
  (at most one socket read)."""

import logging
from urllib.parse import unquote

from daphne.http_protocol import WebRequest
from django.conf import settings
from django.urls import reverse
from twisted.internet import threads

from dashboard.images.upload_admission import upload_refusal

logger = logging.getLogger(__name__)

# The multipart framing around the tarball: boundaries, part headers, the name,
# visibility and CSRF fields.
UPLOAD_FRAMING_BYTES = 64 << 10

REASONS = {403: b"Forbidden", 413: b"Content Too Large", 500: b"Internal Server Error"}


def body_limit(method: bytes, target: bytes, root_path: str) -> tuple[int, bool]:
    """(the most bytes of body the request may send, whether it is an upload that needs
    a logged-in session). A path that is not exactly the upload form's, as Daphne will
    hand it to Django, gets the small limit: a disguised upload is refused, never let in."""
    try:
        path = unquote(target.split(b"?", 1)[0].decode("ascii"))
    except UnicodeDecodeError:
        path = None
    if method == b"POST" and path == root_path + reverse("images:new"):
        return settings.UPLOAD_MAX_BYTES + UPLOAD_FRAMING_BYTES, True
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE, False


class BoundedRequest(WebRequest):
    """Daphne's request, refusing bodies before they are stored (see the module's docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.body_limit = 0
        self.body_received = 0
        self.refused = False
        # While the upload check runs: the body that arrived (a list) and, if it all did,
        # requestReceived's arguments.
        self.held = None
        self.held_request = None
        self.expects_continue = False

    def gotLength(self, length):
        # Twisted hands the request line to the request only with the whole body
        # (requestReceived); its channel keeps it from the first line, as _command and _path.
        # Without them every body gets the small limit (tests/dashboard/test_request_bodies.py).
        method, target = getattr(self.channel, "_command", b""), getattr(self.channel, "_path", b"")
        self.body_limit, needs_login = body_limit(method, target, self.server.root_path)
        if length is not None and length > self.body_limit:
            self.refuse(413, f"The request body is larger than the {self.body_limit} bytes allowed here.")
        elif needs_login and length != 0:
            self.check_upload(method, target, length)
        else:
            super().gotLength(length)

    def check_upload(self, method: bytes, target: bytes, length):
        self.held = []
        self.transport.pauseProducing()
        # Twisted answers "Expect: 100-continue" once gotLength returns; this one waits for the check.
        self.expects_continue = self.requestHeaders.hasHeader(b"Expect")
        self.requestHeaders.removeHeader(b"Expect")
        host = self.getHost()
        server = (getattr(host, "host", ""), getattr(host, "port", ""))
        checked = threads.deferToThread(
            upload_refusal,
            method=method.decode("ascii"),
            path=target.split(b"?", 1)[0].decode("ascii"),
            headers=list(self.requestHeaders.getAllRawHeaders()),
            scheme="https" if self.isSecure() else "http",
            server=server,
        )
        checked.addCallbacks(self.upload_checked, self.upload_check_failed, callbackArgs=(length,))

    def upload_checked(self, refusal, length):
        if self.channel is None or self.refused:
            return
        if refusal is not None:
            self.refuse(403, refusal)
            return
        held, self.held = self.held, None
        super().gotLength(length)
        for chunk in held:
            super().handleContentChunk(chunk)
        if self.expects_continue:
            self.channel.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.transport.resumeProducing()
        if self.held_request is not None:
            super().requestReceived(*self.held_request)

    def upload_check_failed(self, failure):
        logger.error("Checking an upload's session failed", exc_info=failure.value)
        if self.channel is not None and not self.refused:
            self.refuse(500, "The upload could not be checked.")

    def handleContentChunk(self, data):
        if self.refused:
            return
        self.body_received += len(data)
        if self.body_received > self.body_limit:
            self.refuse(413, f"The request body is larger than the {self.body_limit} bytes allowed here.")
        elif self.held is not None:
            self.held.append(data)
        else:
            super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        if self.refused:
            return
        if self.held is not None:
            self.held_request = (command, path, version)
            return
        super().requestReceived(command, path, version)

    def refuse(self, status: int, message: str):
        """Answer `status` and close the connection without reading the rest of the body."""
        self.refused = True
        self.held = None
        if self.content is not None:
            self.content.close()
        # Else Twisted would still answer "100 Continue" after this.
        self.requestHeaders.removeHeader(b"Expect")
        logger.info("Refused a request body (%d): %s", status, message)
        body = message.encode() + b"\n"
        head = b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n" % (
            status,
            REASONS[status],
            len(body),
        )
        self.channel.transport.write(head + b"Connection: close\r\n\r\n" + body)
        self.channel.loseConnection()
