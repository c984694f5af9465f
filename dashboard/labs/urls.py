from django.urls import path

from dashboard.labs import views

app_name = "labs"
urlpatterns = [
    path("", views.lab_list, name="list"),
    path("import/", views.lab_import, name="import"),
    path("tokens/", views.api_tokens, name="tokens"),
    path("<int:lab_id>/", views.lab_detail, name="detail"),
    path("<int:lab_id>/start/", views.lab_start, name="start"),
    path("<int:lab_id>/assign/", views.lab_assign_all, name="assign"),
    path("<int:lab_id>/share/", views.lab_share, name="share"),
    path("<int:lab_id>/egress/", views.lab_egress, name="egress"),
    path("instances/<int:instance_id>/", views.instance_detail, name="instance"),
    path("instances/<int:instance_id>/state.json", views.instance_state, name="instance-state"),
    path("instances/<int:instance_id>/steps/<str:step_id>/check/", views.instance_check, name="check"),
]
