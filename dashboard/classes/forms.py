from django import forms


class NewClassForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    lab = forms.ChoiceField(label="Lab")

    def __init__(self, *args, labs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lab"].choices = [(lab.pk, lab.title) for lab in labs]


class SettingsForm(forms.Form):
    seats = forms.IntegerField(label="Seats", min_value=1, max_value=1000)
    self_registration = forms.BooleanField(label="Visitors may make an account with the code", required=False)
    join_code_expires_at = forms.DateTimeField(label="Code expires", required=False,
                                               widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    starts_at = forms.DateTimeField(label="Starts", required=False,
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label="Ends", required=False,
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    time_limit_minutes = forms.IntegerField(label="Time limit (minutes)", min_value=1, max_value=10080, required=False,
                                            help_text="From a student's first start; then stopped, files kept.")
    idle_limit_minutes = forms.IntegerField(label="Idle limit (minutes)", min_value=1, max_value=1440, required=False,
                                            help_text="Without checks or a new shell; then suspended, memory kept.")
    student_extensions = forms.IntegerField(label="Extensions a student may take (15 minutes each)", min_value=0,
                                            max_value=20)

    def limits_in_seconds(self) -> dict:
        data = dict(self.cleaned_data)
        for name in ("time_limit", "idle_limit"):
            minutes = data.pop(f"{name}_minutes")
            data[f"{name}_seconds"] = minutes * 60 if minutes else None
        return data


class JoinForm(forms.Form):
    code = forms.CharField(label="Join code", max_length=20)


class RegisterForm(JoinForm):
    username = forms.CharField(label="Username", max_length=150)
    password = forms.CharField(label="Password", widget=forms.PasswordInput, max_length=128)
