from django.contrib import admin

from dashboard.images.models import Image


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "visibility", "status", "node", "size_bytes", "file_count", "created_at"]
    list_filter = ["status", "visibility"]
    filter_horizontal = ["shared_with"]
