from django.urls import path

from dashboard.containers import views

app_name = "containers"
urlpatterns = [
    path("", views.container_list, name="list"),
    path("containers/status.json", views.container_list_status, name="list-status"),
    path("containers/new/", views.container_new, name="new"),
    path("containers/<int:container_id>/", views.container_detail, name="detail"),
    path("containers/<int:container_id>/status.json", views.container_detail_status, name="status"),
    path("containers/<int:container_id>/start/", views.container_start, name="start"),
    path("containers/<int:container_id>/stop/", views.container_stop, name="stop"),
    path("containers/<int:container_id>/restart/", views.container_restart, name="restart"),
    path("containers/<int:container_id>/delete/", views.container_delete, name="delete"),
]
