from django import forms

from dashboard.networks.models import Network


class NewNetworkForm(forms.Form):
    name = forms.CharField(label="Name", max_length=63)
    egress = forms.ChoiceField(label="Egress", choices=Network.Egress.choices, initial=Network.Egress.INTERNET)
    klass = forms.ModelChoiceField(label="Class", queryset=None, required=False, empty_label="No class (my group)")

    def __init__(self, *args, classes, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["klass"].queryset = classes


class EgressForm(forms.Form):
    egress = forms.ChoiceField(label="Egress", choices=Network.Egress.choices)
