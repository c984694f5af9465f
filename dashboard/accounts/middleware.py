"""Sends a user who must change their password (the first admin, whose password
was printed on a terminal) to the password change page from every page."""

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from dashboard.accounts.selectors import password_change_required


CHECKED = "password_change_checked"


class PasswordChangeRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated and not self._allowed(request.path) and self._required(request):
            return redirect("password_change")
        return self.get_response(request)

    @staticmethod
    def _required(request) -> bool:
        # Asked once per session, not on every page: the flag is made before
        # any login (bootstrap) and only ever removed, so a session that found
        # none never needs to ask again.
        if request.session.get(CHECKED):
            return False
        required = password_change_required(user=request.user)
        if not required:
            request.session[CHECKED] = True
        return required

    @staticmethod
    def _allowed(path: str) -> bool:
        return path in (reverse("password_change"), reverse("logout")) or path.startswith("/" + settings.STATIC_URL)
