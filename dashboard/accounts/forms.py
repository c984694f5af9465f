from django import forms

from dashboard.containers.forms import checked
from runtime import parse_limits, parse_size


class QuotaForm(forms.Form):
    """The first three are required; a blank one of the others keeps its value."""

    max_containers = forms.IntegerField(label="Containers", min_value=0, max_value=1000)
    max_memory = forms.CharField(label="Memory", help_text="e.g. 1g")
    max_cpus = forms.FloatField(label="CPUs", min_value=0.1, max_value=1024)
    pids_limit = forms.IntegerField(label="Pids per container", required=False, min_value=16, max_value=4194304)
    disk = forms.CharField(label="Disk per container", required=False, help_text="e.g. 1g")
    max_shells = forms.IntegerField(label="Shells", required=False, min_value=0, max_value=100)
    max_images = forms.IntegerField(label="Images", required=False, min_value=0, max_value=1000)
    max_image_bytes = forms.CharField(label="Image bytes", required=False, help_text="e.g. 4g")

    def clean_max_memory(self):
        return checked(parse_limits, memory=self.cleaned_data["max_memory"]).memory_bytes

    def clean_disk(self):
        return checked(parse_limits, disk=self.cleaned_data["disk"]).disk_bytes

    def clean_max_image_bytes(self):
        text = self.cleaned_data["max_image_bytes"].strip()
        return checked(parse_size, text, "image bytes", "512m or 4g") if text else None

    def quota_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "max_containers": data["max_containers"],
            "max_memory_bytes": data["max_memory"],
            "max_cpus": data["max_cpus"],
            "pids_limit": data["pids_limit"],
            "disk_bytes": data["disk"],
            "max_shells": data["max_shells"],
            "max_images": data["max_images"],
            "max_image_bytes": data["max_image_bytes"],
        }
