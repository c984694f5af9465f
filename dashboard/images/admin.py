from django import forms
from django.contrib import admin

from dashboard.images.models import Image, RegistryAccess
from dashboard.images.registry_secrets import seal
from runtime import InvalidArgument, parse_reference

DOCKER_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io")


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "visibility", "status", "node", "size_bytes", "file_count", "created_at"]
    list_filter = ["status", "visibility"]
    filter_horizontal = ["shared_with"]


class RegistryAccessForm(forms.ModelForm):
    """The password is written, sealed, never shown back: left empty it keeps the stored one."""

    secret = forms.CharField(label="Password or token", required=False, strip=False,
                             widget=forms.PasswordInput(render_value=False))
    forget_secret = forms.BooleanField(label="Forget the stored password", required=False)

    class Meta:
        model = RegistryAccess
        fields = ["host", "username", "insecure"]
        help_texts = {"host": "As references name it: registry.example.org or 127.0.0.1:5000 (docker.io for Docker Hub)."}

    def clean_host(self):
        host = self.cleaned_data["host"].strip()
        try:
            domain = parse_reference(f"{host}/probe").domain
        except InvalidArgument:
            domain = None
        # "myregistry/probe" parses too, as Docker Hub's: only a host that names itself (or an alias of the Hub) is one.
        if domain is None or (domain != host and host not in DOCKER_HUB_NAMES):
            raise forms.ValidationError("Write the registry as references name it: host or host:port.")
        return domain

    def save(self, commit=True):
        access = super().save(commit=False)
        if self.cleaned_data["forget_secret"]:
            access.sealed_secret = ""
        elif self.cleaned_data["secret"]:
            access.sealed_secret = seal(self.cleaned_data["secret"])
        if commit:
            access.save()
        return access


@admin.register(RegistryAccess)
class RegistryAccessAdmin(admin.ModelAdmin):
    form = RegistryAccessForm
    list_display = ["host", "username", "has_secret", "insecure"]

    @admin.display(boolean=True, description="Password stored")
    def has_secret(self, access):
        return bool(access.sealed_secret)
