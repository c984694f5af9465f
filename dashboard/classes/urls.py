from django.urls import path, re_path

from dashboard.classes import recordings, views

app_name = "classes"
urlpatterns = [
    path("join/", views.join, name="join"),
    path("classes/", views.class_list, name="list"),
    path("classes/new/", views.class_new, name="new"),
    path("classes/<int:class_id>/", views.class_detail, name="detail"),
    path("classes/<int:class_id>/recordings/", recordings.class_recordings_page, name="recordings"),
    path("classes/<int:class_id>/grid.json", views.class_grid_json, name="grid"),
    path("classes/<int:class_id>/settings/", views.class_settings, name="settings"),
    path("classes/<int:class_id>/code/", views.class_code_renew, name="code"),
    path("classes/<int:class_id>/assistants/", views.class_assistants, name="assistants"),
    path("classes/<int:class_id>/roster/", views.class_roster, name="roster"),
    re_path(r"^classes/(?P<class_id>[0-9]+)/export\.(?P<fmt>csv|json)$", views.class_export, name="export"),
    path("classes/<int:class_id>/cells/<int:student_id>/<str:step_id>.json", views.class_cell, name="cell"),
    path("classes/<int:class_id>/mine/", views.student_class, name="student"),
    path("classes/<int:class_id>/mine/hand/", views.student_hand, name="hand"),
    path("classes/<int:class_id>/mine/reset/", views.student_reset, name="student-reset"),
    path("classes/<int:class_id>/reset/", views.class_reset, name="reset"),
    path("classes/<int:class_id>/extend/", views.class_extend, name="extend"),
    path("classes/<int:class_id>/mine/resume/", views.student_resume, name="resume"),
    path("classes/<int:class_id>/mine/back/", views.student_back, name="back"),
    path("classes/<int:class_id>/mine/limits.json", views.student_limits, name="limits"),
    path("classes/<int:class_id>/mine/extend/", views.student_extend, name="student-extend"),
]
