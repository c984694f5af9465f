"""Logins: wrong passwords are throttled per username and address, weak
passwords are refused, cookies are secure and __Host- prefixed with HSTS over
HTTPS, and the first admin must change the printed password before anything else."""

import json
import os
import subprocess
import sys

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from dashboard.accounts.services import admin_ensure

pytestmark = pytest.mark.django_db
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def log_in(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def logged_in(client) -> bool:
    return client.get("/").status_code == 200


def test_after_five_wrong_passwords_even_the_right_one_is_refused(owner, other_student):
    client = Client()
    for _ in range(4):
        assert "Please try again" in log_in(client, "owner", "wrong").content.decode()
    assert log_in(client, "owner", "wrong").status_code == 429
    refused = log_in(client, "owner", "pw-owner")
    assert refused.status_code == 429 and "refused for 15 minutes after 5 wrong passwords" in refused.content.decode()
    assert not logged_in(client)

    neighbour = Client()
    assert log_in(neighbour, "other_student", "pw-other_student").status_code == 302
    assert logged_in(neighbour)


def test_a_success_before_the_limit_starts_the_count_again(owner):
    client = Client()
    for _ in range(4):
        log_in(client, "owner", "wrong")
    assert log_in(client, "owner", "pw-owner").status_code == 302
    client.post("/logout/")
    for _ in range(4):
        log_in(client, "owner", "wrong")
    assert log_in(client, "owner", "pw-owner").status_code == 302
    client.post("/logout/")
    for _ in range(5):
        log_in(client, "owner", "wrong")
    assert log_in(client, "owner", "pw-owner").status_code == 429


@pytest.mark.parametrize("weak", ["password", "12345678", "owner123"])
def test_weak_passwords_are_refused(owner, weak):
    with pytest.raises(ValidationError):
        validate_password(weak, user=owner)
    validate_password("correct horse battery", user=owner)


CHECK_HTTPS = """
from django.conf import settings
from django.test import Client
response = Client(HTTP_X_FORWARDED_PROTO="https").get("/login/")
csrf = response.cookies.get(settings.CSRF_COOKIE_NAME)
print(json.dumps({
    "session": [settings.SESSION_COOKIE_NAME, settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_PATH,
                settings.SESSION_COOKIE_DOMAIN],
    "csrf": [csrf.key, bool(csrf["secure"]), csrf["path"], csrf["domain"]] if csrf else None,
    "hsts": response.get("Strict-Transport-Security"),
}))
"""


def settings_served(tmp_path, **env) -> dict:
    env = {**os.environ, "TERRARIUM_STATE_DIR": str(tmp_path), "SECRET_KEY": "k" * 50, **env}
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "import json\n" + CHECK_HTTPS],
        cwd=REPO, env=env, capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_over_https_cookies_are_secure_and_host_prefixed_and_hsts_is_sent(tmp_path):
    served = settings_served(tmp_path, TERRARIUM_HTTPS="1")
    assert served["session"] == ["__Host-sessionid", True, "/", None]
    assert served["csrf"] == ["__Host-csrftoken", True, "/", ""]
    assert served["hsts"] and served["hsts"].startswith("max-age=") and int(served["hsts"].split("=")[1]) >= 15552000

    plain = settings_served(tmp_path)
    assert plain["session"][0] == "sessionid" and plain["hsts"] is None


def test_the_first_admin_must_change_the_printed_password_before_anything_else(owner):
    password = admin_ensure()
    client = Client()
    assert log_in(client, "admin", password).status_code == 302
    for page in ["/", "/images/", "/quotas/", "/nodes/", "/admin/", "/admin/password_change/"]:
        response = client.get(page)
        assert (response.status_code, response["Location"]) == (302, "/password/"), page
    form = client.get("/password/")
    assert form.status_code == 200 and "choose your own" in form.content.decode()

    weak = client.post("/password/", {"old_password": password, "new_password1": "password", "new_password2": "password"})
    assert "This password is too common" in weak.content.decode()
    assert client.get("/").status_code == 302

    new = "a long new admin secret"
    changed = client.post("/password/", {"old_password": password, "new_password1": new, "new_password2": new})
    assert changed["Location"] == "/password/done/"
    assert client.get("/").status_code == 200 and client.get("/quotas/").status_code == 200

    again = Client()
    assert log_in(again, "admin", new).status_code == 302 and again.get("/").status_code == 200
    students = Client()
    students.force_login(owner)
    assert students.get("/").status_code == 200
