"""Password change: Django's own view, which also lifts the first admin's obligation to change."""

from django.contrib.auth.views import PasswordChangeView

from dashboard.accounts.selectors import password_change_required
from dashboard.accounts.services import password_change_required_clear


class PasswordChange(PasswordChangeView):
    def get_context_data(self, **kwargs):
        required = password_change_required(user=self.request.user)
        return super().get_context_data(password_change_required=required, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        password_change_required_clear(user=form.user)
        return response
