"""HTTP and WebSocket entry point (Daphne). WebSocket routes come from the
apps that own them; every consumer checks auth before it accepts."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dashboard.origins import SameOriginValidator  # noqa: E402
from dashboard.labs.routing import websocket_urlpatterns as labs_ws  # noqa: E402
from dashboard.classes.routing import websocket_urlpatterns as classes_ws  # noqa: E402
from dashboard.monitoring.routing import websocket_urlpatterns as monitoring_ws  # noqa: E402
from dashboard.shell.routing import websocket_urlpatterns as shell_ws  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(
            AuthMiddlewareStack(URLRouter([*monitoring_ws, *shell_ws, *labs_ws, *classes_ws]))
        ),
    }
)
