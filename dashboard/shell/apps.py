from django.apps import AppConfig


class ShellConfig(AppConfig):
    name = "dashboard.shell"
    label = "shell"
