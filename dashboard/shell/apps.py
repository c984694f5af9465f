from django.apps import AppConfig


class ShellConfig(AppConfig):
    name = "dashboard.shell"
    label = "shell"

    def ready(self):
        from dashboard.shell.recording_signals import connect

        connect()
