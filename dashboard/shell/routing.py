from django.urls import path

from dashboard.shell.consumers import LogsConsumer, ShellConsumer

websocket_urlpatterns = [
    path("ws/containers/<int:container_id>/shell/", ShellConsumer.as_asgi()),
    path("ws/containers/<int:container_id>/shell/<str:session>/", ShellConsumer.as_asgi()),
    path("ws/containers/<int:container_id>/logs/", LogsConsumer.as_asgi()),
]
