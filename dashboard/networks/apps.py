from django.apps import AppConfig


class NetworksConfig(AppConfig):
    name = "dashboard.networks"
    label = "networks"
