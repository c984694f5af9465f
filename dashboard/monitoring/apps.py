from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "dashboard.monitoring"
    label = "monitoring"

    def ready(self):
        from dashboard.monitoring import signals  # noqa: F401  (connects the receivers)
