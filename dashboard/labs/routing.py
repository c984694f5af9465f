from django.urls import path

from dashboard.labs.consumers import LabInstanceConsumer

websocket_urlpatterns = [
    path("ws/labs/instances/<int:instance_id>/", LabInstanceConsumer.as_asgi()),
]
