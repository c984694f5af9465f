from django.apps import AppConfig


class ContainersConfig(AppConfig):
    name = "dashboard.containers"
    label = "containers"
