from django.urls import path

from dashboard.labs import api

app_name = "api"
urlpatterns = [
    path("labs/", api.labs, name="labs"),
    path("labs/<int:lab_id>/", api.lab, name="lab"),
    path("labs/<int:lab_id>/assign/", api.lab_assign, name="lab-assign"),
    path("labs/<int:lab_id>/instances/", api.lab_instances, name="lab-instances"),
    path("instances/<int:instance_id>/", api.instance, name="instance"),
    path("instances/<int:instance_id>/runs/", api.instance_runs, name="instance-runs"),
    path("instances/<int:instance_id>/steps/<str:step_id>/check/", api.instance_check, name="instance-check"),
]
