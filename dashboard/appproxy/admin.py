from django.contrib import admin

from dashboard.appproxy.models import AppShare

admin.site.register(AppShare)
