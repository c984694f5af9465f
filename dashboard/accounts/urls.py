from django.urls import path

from dashboard.accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.quota_list, name="quotas"),
    path("<int:user_id>/", views.quota_update, name="quota-update"),
]
