from django.urls import path

from dashboard.networks import views

app_name = "networks"
urlpatterns = [
    path("", views.network_list, name="list"),
    path("<int:network_id>/egress/", views.network_egress, name="egress"),
    path("<int:network_id>/delete/", views.network_delete, name="delete"),
]
