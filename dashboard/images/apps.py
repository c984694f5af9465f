from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "dashboard.images"
    label = "images"
