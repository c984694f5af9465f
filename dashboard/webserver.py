"""The web process: Daphne serving dashboard.asgi:application, whose requests
refuse bodies before storing them (dashboard.request_bodies).
`python -m dashboard.webserver -b 127.0.0.1 -p 8000` takes Daphne's options;
the application is always the dashboard's."""

import sys

from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory
from daphne.server import Server

APPLICATION = "dashboard.asgi:application"


class BoundedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        # Imported here: it needs Django set up, which loading the application does.
        from dashboard.request_bodies import BoundedRequest

        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BoundedRequest
        return protocol


class BoundedServer(Server):
    """Daphne's Server with BoundedHTTPFactory. Server.run builds its factory in line
    (`self.http_factory = HTTPFactory(self)`) and offers no hook for its class, so this
    property takes that assignment and keeps ours; the tests in
    tests/dashboard/test_request_bodies.py fail if a Daphne release stops making it."""

    @property
    def http_factory(self):
        return self._bounded_http_factory

    @http_factory.setter
    def http_factory(self, daphnes: HTTPFactory):
        self._bounded_http_factory = BoundedHTTPFactory(daphnes.server)


class WebServerCommand(CommandLineInterface):
    description = "Terrarium's web server (Daphne, with request bodies bounded)"
    server_class = BoundedServer

    def run(self, args):
        super().run([*args, APPLICATION])


if __name__ == "__main__":
    WebServerCommand().run(sys.argv[1:])
