from django.apps import AppConfig


class LabsConfig(AppConfig):
    name = "dashboard.labs"
    label = "labs"
