from django.urls import path

from dashboard.shell import views

app_name = "shell"
urlpatterns = [
    path("shell/sessions/", views.session_list, name="sessions"),
    path("containers/<int:container_id>/shell/", views.terminal_page, name="terminal"),
    path("containers/<int:container_id>/shell/<str:session_key>/", views.terminal_page, name="terminal_session"),
    path("containers/<int:container_id>/logs/download/", views.logs_download, name="logs_download"),
]
