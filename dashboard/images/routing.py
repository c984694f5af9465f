from django.urls import path

from dashboard.images.consumers import ImageListConsumer

websocket_urlpatterns = [
    path("ws/images/", ImageListConsumer.as_asgi()),
]
