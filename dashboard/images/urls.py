from django.urls import path

from dashboard.images import views

app_name = "images"
urlpatterns = [
    path("", views.image_list, name="list"),
    path("status.json", views.image_list_status, name="list-status"),
    path("new/", views.image_new, name="new"),
    path("<int:image_id>/delete/", views.image_delete, name="delete"),
    path("<int:image_id>/download/", views.image_download, name="download"),
    path("from-container/<int:container_id>/", views.image_commit, name="commit"),
]
