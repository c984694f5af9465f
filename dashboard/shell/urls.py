from django.urls import path

from dashboard.shell import recording_views, views

app_name = "shell"
urlpatterns = [
    path("shell/sessions/", views.session_list, name="sessions"),
    path("containers/<int:container_id>/shell/", views.terminal_page, name="terminal"),
    path("containers/<int:container_id>/shell/<str:session_key>/", views.terminal_page, name="terminal_session"),
    path("containers/<int:container_id>/logs/download/", views.logs_download, name="logs_download"),
    path("recordings/<int:recording_id>/", recording_views.recording_page, name="recording"),
    path("recordings/<int:recording_id>.cast", recording_views.recording_cast, name="recording_cast"),
    path("checks/<int:run_id>/recording/", recording_views.check_recording, name="check_recording"),
]
