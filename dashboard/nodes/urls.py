from django.urls import path

from dashboard.nodes import views

app_name = "nodes"
urlpatterns = [
    path("", views.node_list, name="list"),
]
