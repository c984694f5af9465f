from django.apps import AppConfig


class ShellConfig(AppConfig):
    name = "dashboard.shell"
    label = "shell"

    def ready(self):
        # Imported once the apps are loaded: the receiver names the shell's models.
        from dashboard.shell.recording_signals import connect

        connect()
