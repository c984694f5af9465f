from django.urls import path

from dashboard.monitoring.consumers import ContainerStatsConsumer, OverviewStatsConsumer

websocket_urlpatterns = [
    path("ws/containers/<int:container_id>/stats/", ContainerStatsConsumer.as_asgi()),
    path("ws/stats/overview/", OverviewStatsConsumer.as_asgi()),
]
