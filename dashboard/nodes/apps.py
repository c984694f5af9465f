from django.apps import AppConfig


class NodesConfig(AppConfig):
    name = "dashboard.nodes"
    label = "nodes"
