from django.urls import path

from dashboard.appproxy import views

app_name = "appproxy"
urlpatterns = [
    path("apps/<int:container_pk>/<int:port>/", views.app_open, name="open"),
    path("apps/<int:container_pk>/share/", views.app_share, name="share"),
]
