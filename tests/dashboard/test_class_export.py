"""A class's export: a row per student, a column per step with its state,
points, attempts and each step's first pass, as CSV and JSON."""

import csv
import io

import pytest

from class_helpers import check, enrol_with_instance, make_class, make_lab
from dashboard.classes.models import Enrolment

pytestmark = pytest.mark.django_db


@pytest.fixture
def klass(teacher, node):
    return make_class(teacher=teacher, lab=make_lab(teacher=teacher, node=node))


@pytest.fixture
def results(klass, owner, other_student):
    mine = enrol_with_instance(klass=klass, student=owner)
    check(mine, "make", "failed", after_seconds=1)
    passed = check(mine, "make", "passed", after_seconds=2)
    check(mine, "fill", "failed", after_seconds=3)
    Enrolment.objects.create(klass=klass, student=other_student)
    return passed


def test_the_csv_has_a_row_per_student_and_a_column_per_step(client_for, teacher, klass, results):
    response = client_for(teacher).get(f"/classes/{klass.pk}/export.csv")
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["username"] for row in rows] == ["other_student", "owner"]
    other, mine = rows
    assert (mine["make"], mine["fill"], mine["points"], mine["attempts"]) == ("passed", "failed", "2", "3")
    assert mine["make first pass"] == results.requested_at.isoformat() and mine["fill first pass"] == ""
    assert (other["make"], other["fill"], other["points"], other["attempts"]) == ("pending", "pending", "0", "0")


def test_the_json_says_the_same(client_for, teacher, klass, results):
    data = client_for(teacher).get(f"/classes/{klass.pk}/export.json").json()
    mine = next(s for s in data["students"] if s["username"] == "owner")
    assert mine["points"] == 2 and mine["attempts"] == 3
    assert mine["steps"]["make"] == {"state": "passed", "attempts": 2, "first_pass": results.requested_at.isoformat()}
    assert mine["steps"]["fill"] == {"state": "failed", "attempts": 1, "first_pass": ""}


def test_a_name_a_spreadsheet_would_run_as_a_formula_is_quoted(client_for, teacher, klass, django_user_model):
    student = django_user_model.objects.create_user(username="mallory", first_name="=HYPERLINK(\"x\")", password="x")
    Enrolment.objects.create(klass=klass, student=student)
    rows = list(csv.DictReader(io.StringIO(client_for(teacher).get(f"/classes/{klass.pk}/export.csv").content.decode())))
    assert rows[0]["name"] == "'=HYPERLINK(\"x\")"
