from django.apps import AppConfig


class ClassesConfig(AppConfig):
    name = "dashboard.classes"
    label = "classes"

    def ready(self):
        # Imported once the apps are loaded: the receivers name the labs' models.
        from dashboard.classes.signals import connect

        connect()
