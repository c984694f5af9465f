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


class JoinForm(forms.Form):
    code = forms.CharField(label="Join code", max_length=20)


class RegisterForm(JoinForm):
    username = forms.CharField(label="Username", max_length=150)
    password = forms.CharField(label="Password", widget=forms.PasswordInput, max_length=128)
