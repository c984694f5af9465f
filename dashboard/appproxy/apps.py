from django.apps import AppConfig


class AppProxyConfig(AppConfig):
    name = "dashboard.appproxy"
    label = "appproxy"
    verbose_name = "App proxy"
