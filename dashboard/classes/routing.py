from django.urls import path

from dashboard.classes.consumers import ClassGridConsumer

websocket_urlpatterns = [
    path("ws/classes/<int:class_id>/", ClassGridConsumer.as_asgi()),
]
