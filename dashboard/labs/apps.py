from django.apps import AppConfig


class LabsConfig(AppConfig):
    name = "dashboard.labs"
    label = "labs"

    def ready(self):
        # Here: the worker module needs the apps' models.
        from dashboard.labs import worker

        worker.connect()
