"""Sends a user who must change their password (the first admin, whose password
was printed on a terminal) to the password change page from every page."""

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from dashboard.accounts.selectors import password_change_required


class PasswordChangeRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated and not self._allowed(request.path) and password_change_required(
            user=request.user
        ):
            return redirect("password_change")
        return self.get_response(request)

    @staticmethod
    def _allowed(path: str) -> bool:
        return path in (reverse("password_change"), reverse("logout")) or path.startswith("/" + settings.STATIC_URL)
