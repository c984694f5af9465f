"""The web server: Daphne, with request bodies bounded before they are read.

Twisted writes a request's body to a temporary file as it arrives and hands
it to Django only once it is complete, so a view's checks come after the
whole body is on disk. Here the body is refused (413, connection closed) as
soon as its declared length, or what has arrived of a chunked one, passes
the limit of its path: the image upload gets UPLOAD_MAX_BYTES and a little
for the form around it, every other path what Django would accept of a
form. Runs as `python -m dashboard.webserver` with daphne's options."""

import io
import os
import sys

import daphne.server
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

UPLOAD_PATH = b"/images/new/"
# The multipart framing and the form's other fields around the tarball.
FORM_OVERHEAD = 1 << 20
REFUSAL = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def body_limit(path: bytes) -> int:
    from django.conf import settings

    if path.split(b"?", 1)[0] == UPLOAD_PATH:
        return settings.UPLOAD_MAX_BYTES + FORM_OVERHEAD
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE + FORM_OVERHEAD


class BoundedRequest(WebRequest):
    refused = False

    def gotLength(self, length):
        # The request line is parsed, the body not yet read: the channel holds the path.
        self.limit = body_limit(self.channel._path)
        self.received = 0
        if length is not None and length > self.limit:
            self._refuse()
        else:
            super().gotLength(length)

    def handleContentChunk(self, data):
        if self.refused:
            return
        self.received += len(data)
        if self.received > self.limit:
            self._refuse()
            return
        super().handleContentChunk(data)

    def process(self):
        if not self.refused:
            return super().process()

    def _refuse(self):
        self.refused = True
        self.content = io.BytesIO()
        self.channel.transport.write(REFUSAL)
        self.channel.loseConnection()


class BoundedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BoundedRequest
        return protocol


def main(argv=None) -> None:
    # Daphne's Server builds its factory from this module global; there is no option for it.
    daphne.server.HTTPFactory = BoundedHTTPFactory
    CommandLineInterface().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
