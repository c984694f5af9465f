"""The new-container form: every value is checked here, beside its field,
before anything is created. Limits and the name are checked by the runtime's
own functions, so the form and `python -m runtime run` refuse the same
values with the same message."""

import re
import shlex

from django import forms
from django.db.models import Max

from dashboard.accounts.roles import is_teacher
from dashboard.images.selectors import image_choice_label, images_launchable_by
from dashboard.networks.models import Network
from dashboard.networks.selectors import networks_usable_by
from dashboard.networks.services import PERSONAL
from dashboard.nodes.models import Node
from runtime import InvalidArgument, check_name, parse_limits

_HOST_LABEL = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PORT = re.compile(r"^[0-9]{1,5}$")
MAX_APP_PORTS = 8
NO_NETWORK = "none"


def checked(check, *args, **kwargs):
    """A runtime check's result, or its one-line message as the field's error."""
    try:
        return check(*args, **kwargs)
    except InvalidArgument as exc:
        raise forms.ValidationError(str(exc)) from None


class ContainerForm(forms.Form):
    image = forms.ModelChoiceField(queryset=None, label="Image", empty_label=None)
    name = forms.CharField(label="Name", max_length=63)
    command = forms.CharField(label="Command", required=False, help_text="Split as a shell would: sh -c 'a; b'")
    memory_limit = forms.CharField(label="Memory limit", required=False, help_text="e.g. 64m, 1g")
    cpu_limit = forms.CharField(label="CPU limit", required=False, help_text="e.g. 0.5")
    pids_limit = forms.IntegerField(
        label="Pids limit", required=False, help_text="Most processes at once; blank: your quota's default",
    )
    disk_limit = forms.CharField(
        label="Disk limit", required=False, help_text="What the container may write, e.g. 512m, 1g; blank: your quota's default"
    )
    hostname = forms.CharField(label="Hostname", required=False, max_length=253)
    userns = forms.ChoiceField(
        label="User namespace", required=False, initial="auto",
        choices=[("auto", "Own id range (root inside only)"), ("host", "Host's ids (root is the host's root)")],
    )
    node = forms.ModelChoiceField(
        queryset=Node.objects.all(), label="Node", required=False, empty_label="Automatic (least loaded)"
    )
    network = forms.ChoiceField(label="Network", initial=PERSONAL, required=False,
                                help_text="Containers on one network reach each other by name")
    ports = forms.CharField(
        label="Ports", required=False,
        help_text=f"Container ports to open through the dashboard, e.g. 80, 8080 (at most {MAX_APP_PORTS})",
    )
    environment = forms.CharField(
        label="Environment", required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="One KEY=value per line"
    )

    def __init__(self, *args, user, **kwargs):
        # Accessible names are exactly "Name", "Image", ...: outside checks find fields by them.
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["image"].queryset = images_launchable_by(user=user)
        self.fields["image"].label_from_instance = lambda image: image_choice_label(image=image, user=user)
        if not is_teacher(user):
            del self.fields["userns"]
        self.networks = {str(n.pk): n for n in networks_usable_by(user=user).filter(kind=Network.Kind.SHARED)}
        self.fields["network"].choices = [
            (PERSONAL, "My network"),
            *((pk, f"{n.name} (egress {n.egress})") for pk, n in self.networks.items()),
            (NO_NETWORK, "None (loopback only)"),
        ]

    def clean_name(self):
        return checked(check_name, self.cleaned_data["name"].strip())

    def clean_command(self):
        try:
            return shlex.split(self.cleaned_data["command"])
        except ValueError as exc:
            raise forms.ValidationError(f"The command cannot be split as a shell would: {exc}.") from None

    def clean_memory_limit(self):
        return checked(parse_limits, memory=self.cleaned_data["memory_limit"]).memory_bytes

    def clean_disk_limit(self):
        return checked(parse_limits, disk=self.cleaned_data["disk_limit"]).disk_bytes

    def clean_pids_limit(self):
        return checked(parse_limits, pids=self.cleaned_data["pids_limit"]).pids_limit

    def clean_cpu_limit(self):
        most = Node.objects.aggregate(most=Max("cpus"))["most"] or 1
        return checked(parse_limits, cpus=self.cleaned_data["cpu_limit"], most_cpus=most).cpus

    def clean_hostname(self):
        hostname = self.cleaned_data["hostname"].strip()
        if hostname and not all(_HOST_LABEL.match(label) for label in hostname.split(".")):
            raise forms.ValidationError(
                "A hostname is dot-separated labels of letters, digits and inner hyphens (RFC 1123)."
            )
        return hostname

    def clean_network(self):
        choice = self.cleaned_data["network"]
        if choice == NO_NETWORK:
            return None
        # Blank (an older client): the form's default, the user's own network.
        return self.networks.get(choice, PERSONAL)

    def clean_ports(self):
        words = [w for w in re.split(r"[\s,]+", self.cleaned_data["ports"]) if w]
        if len(words) > MAX_APP_PORTS or not all(_PORT.match(w) and 1 <= int(w) <= 65535 for w in words):
            raise forms.ValidationError(
                f"Ports are at most {MAX_APP_PORTS} container ports from 1 to 65535, separated by commas or spaces."
            )
        return sorted({int(w) for w in words})

    def clean_environment(self):
        env = {}
        for number, line in enumerate(self.cleaned_data["environment"].splitlines(), 1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not _ENV_KEY.match(key):
                raise forms.ValidationError(f"Line {number} is not KEY=value with a valid variable name: {line!r}.")
            env[key] = value
        return env

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "image": data["image"],
            "name": data["name"],
            "command": data["command"],
            "env": data["environment"],
            "hostname": data["hostname"],
            "memory_bytes": data["memory_limit"],
            "cpus": data["cpu_limit"],
            "pids_limit": data["pids_limit"],
            "disk_bytes": data["disk_limit"],
            "userns": data.get("userns") or "auto",
            "node": data["node"],
            "network": data["network"],
            "app_ports": data["ports"],
        }
