from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard.accounts.password_views import PasswordChange

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", PasswordChange.as_view(), name="password_change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
    path("", include("dashboard.containers.urls")),
    path("", include("dashboard.shell.urls")),
    path("images/", include("dashboard.images.urls")),
    path("nodes/", include("dashboard.nodes.urls")),
    path("quotas/", include("dashboard.accounts.urls")),
    path("labs/", include("dashboard.labs.urls")),
    path("api/", include("dashboard.labs.api_urls")),
    path("", include("dashboard.classes.urls")),
    path("networks/", include("dashboard.networks.urls")),
    path("", include("dashboard.appproxy.urls")),
]
