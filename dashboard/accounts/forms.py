from django import forms

from dashboard.containers.forms import parse_memory


class QuotaForm(forms.Form):
    max_containers = forms.IntegerField(label="Containers", min_value=0, max_value=1000)
    max_memory = forms.CharField(label="Memory", help_text="e.g. 1g")
    max_cpus = forms.FloatField(label="CPUs", min_value=0.1, max_value=1024)

    def clean_max_memory(self):
        return parse_memory(self.cleaned_data["max_memory"])
