"""Enrolment: a student joins with the class's join code and lands on the
lab's page; a wrong, expired or full code says so and changes nothing, and
guessing is throttled; a visitor makes an account with the code only when
the class allows it; a roster CSV makes accounts with one-time passwords
(downloaded once, changed at first login) or, with any bad line, nothing."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from class_helpers import make_class, make_lab
from dashboard.accounts.models import PasswordChangeRequired
from dashboard.classes.models import Enrolment, JoinAttempt
from dashboard.classes.throttle import MAX_WRONG

pytestmark = pytest.mark.django_db
JOIN = "/join/"


@pytest.fixture
def klass(teacher, node):
    return make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))


def join(client, code, **extra):
    return client.post(JOIN, {"code": code, **extra})


def test_the_join_page_has_a_join_code_field_and_a_join_button(client_for, owner):
    page = client_for(owner).get(JOIN).content.decode()
    assert '<label for="id_code">Join code:</label>' in page and ">Join</button>" in page


def test_a_student_joins_with_the_code_typed_loosely_and_lands_on_the_labs_page(client_for, owner, klass):
    code = klass.join_code
    response = join(client_for(owner), f" {code[:4].lower()}-{code[4:]} ")
    assert response.status_code == 302 and response.url == reverse("labs:detail", args=[klass.lab_id])
    assert list(klass.enrolments.values_list("student__username", flat=True)) == ["owner"]


def test_joining_twice_keeps_one_seat(client_for, owner, klass):
    client = client_for(owner)
    join(client, klass.join_code)
    assert join(client, klass.join_code).status_code == 302
    assert klass.enrolments.count() == 1


@pytest.mark.parametrize("case,message", [
    ("wrong", "No class has this join code."),
    ("expired", "This join code has expired"),
    ("full", "This class is full"),
])
def test_a_wrong_expired_or_full_code_says_so_and_changes_nothing(client_for, owner, other_student, klass,
                                                                   case, message):
    code = klass.join_code
    if case == "wrong":
        code = "ABCDEFGH" if code != "ABCDEFGH" else "HGFEDCBA"
    elif case == "expired":
        klass.join_code_expires_at = timezone.now() - timedelta(minutes=1)
        klass.save()
    else:
        klass.seats = 1
        klass.save()
        Enrolment.objects.create(klass=klass, student=other_student)
    before = list(Enrolment.objects.values_list("klass_id", "student_id"))
    response = join(client_for(owner), code)
    assert response.status_code == 400
    assert message in response.content.decode() and 'role="alert"' in response.content.decode()
    assert list(Enrolment.objects.values_list("klass_id", "student_id")) == before


def test_guessing_codes_is_throttled_per_user_even_for_the_right_code(client_for, owner, other_student, klass):
    client = client_for(owner)
    for _ in range(MAX_WRONG):
        assert "No class has this join code." in join(client, "XXXXXXXX").content.decode()
    refused = join(client, klass.join_code)
    assert refused.status_code == 400 and "Too many wrong join codes" in refused.content.decode()
    assert not klass.enrolments.exists()
    assert join(client_for(other_student), klass.join_code).status_code == 302
    assert JoinAttempt.objects.filter(key=f"user:{owner.pk}").count() == MAX_WRONG


def test_a_visitor_makes_an_account_with_the_code_when_the_class_allows_it(client_for, klass):
    klass.self_registration = True
    klass.save()
    client = client_for()
    response = join(client, klass.join_code, username="newcomer", password="a long passphrase 42")
    assert response.status_code == 302 and response.url == reverse("labs:detail", args=[klass.lab_id])
    user = get_user_model().objects.get(username="newcomer")
    assert user.check_password("a long passphrase 42") and klass.enrolments.filter(student=user).exists()
    assert client.get(reverse("labs:detail", args=[klass.lab_id])).wsgi_request.user == user


def test_a_visitor_gets_no_account_when_the_class_does_not_allow_it(client_for, klass):
    response = join(client_for(), klass.join_code, username="newcomer", password="a long passphrase 42")
    assert response.status_code == 400 and "does not make accounts" in response.content.decode()
    assert not get_user_model().objects.filter(username="newcomer").exists()


def test_a_visitor_with_a_taken_username_or_weak_password_gets_nothing(client_for, owner, klass):
    klass.self_registration = True
    klass.save()
    users = get_user_model().objects.count()
    assert "taken" in join(client_for(), klass.join_code, username="owner", password="a long passphrase 42"
                           ).content.decode()
    assert join(client_for(), klass.join_code, username="weak", password="123").status_code == 400
    assert get_user_model().objects.count() == users and not klass.enrolments.exists()


def roster(client, klass, text: str):
    return client.post(reverse("classes:roster", args=[klass.pk]),
                       {"roster": SimpleUploadedFile("roster.csv", text.encode(), content_type="text/csv")})


def test_a_roster_makes_accounts_whose_one_time_passwords_are_downloaded_once(client_for, teacher, klass):
    response = roster(client_for(teacher), klass,
                      "username,name,e-mail\nada,Ada Lovelace,ada@example.org\nalan,Alan Turing,\n")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"] and response["Cache-Control"] == "no-store"
    lines = response.content.decode().splitlines()
    assert lines[0] == "username,name,email,password" and len(lines) == 3
    for line in lines[1:]:
        username, name, email, password = line.split(",")
        user = get_user_model().objects.get(username=username)
        assert user.check_password(password) and user.get_full_name() == name
        assert PasswordChangeRequired.objects.filter(user=user).exists()
        assert klass.enrolments.filter(student=user).exists()
    assert get_user_model().objects.get(username="ada").email == "ada@example.org"
    page = client_for(teacher).get(reverse("classes:detail", args=[klass.pk])).content.decode()
    assert lines[1].split(",")[3] not in page


def test_a_roster_student_must_change_the_password_at_first_login(client_for, teacher, klass):
    line = roster(client_for(teacher), klass, "ada,Ada Lovelace,\n").content.decode().splitlines()[1]
    client = client_for()
    assert client.post(reverse("login"), {"username": "ada", "password": line.split(",")[3]}).status_code == 302
    assert client.get("/").url == reverse("password_change")


def test_a_roster_with_duplicates_or_bad_rows_is_refused_by_line_and_makes_nothing(client_for, teacher, owner, klass):
    users = get_user_model().objects.count()
    response = roster(client_for(teacher), klass, "\n".join([
        "ada,Ada Lovelace,ada@example.org",
        "bad name!,Someone,",
        "ada,Ada Again,",
        "owner,The Owner,",
        "eve,Eve,not-an-address",
        "only-two,fields",
        "bob,Bob,",
    ]))
    assert response.status_code == 400
    page = response.content.decode()
    for expected in ("line 2: &#x27;bad name!&#x27; is not a valid username", "line 3: &#x27;ada&#x27; is already on line 1",
                     "line 4: an account &#x27;owner&#x27; already exists", "line 5: &#x27;not-an-address&#x27; is not an e-mail",
                     "line 6: expected 3 fields"):
        assert expected in page
    assert get_user_model().objects.count() == users and not klass.enrolments.exists()


def test_only_the_classs_teacher_imports_a_roster(client_for, other_student, klass):
    assert roster(client_for(other_student), klass, "ada,Ada,\n").status_code == 404
    assert not get_user_model().objects.filter(username="ada").exists()


def test_a_students_home_page_lists_their_classes(client_for, owner, klass):
    client = client_for(owner)
    assert "Your classes" not in client.get("/").content.decode()
    join(client, klass.join_code)
    page = client.get("/").content.decode()
    assert "Your classes" in page and f'href="{reverse("labs:detail", args=[klass.lab_id])}">Linux 101</a>' in page
