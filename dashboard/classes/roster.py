"""A roster CSV (username, name, e-mail; a header line is optional) checked
line by line before any account is made: every error carries its line."""

import csv
import io
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

MAX_BYTES = 256 * 1024
MAX_ROWS = 500
HEADER = ("username", "name")


@dataclass(frozen=True)
class RosterRow:
    line: int
    username: str
    name: str
    email: str


class RosterInvalid(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _check(line: int, cells: list[str]) -> tuple[RosterRow | None, str | None]:
    if len(cells) != 3:
        return None, f"line {line}: expected 3 fields (username, name, e-mail), found {len(cells)}."
    username, name, email = (cell.strip() for cell in cells)
    if not username:
        return None, f"line {line}: the username is empty."
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        return None, f"line {line}: {username!r} is not a valid username (letters, digits and @.+-_ only)."
    if len(username) > 150 or len(name) > 300:
        return None, f"line {line}: the username (150) or name (300) is too long."
    if email:
        try:
            validate_email(email)
        except ValidationError:
            return None, f"line {line}: {email!r} is not an e-mail address."
    return RosterRow(line, username, name, email), None


def parse_roster(data: bytes) -> list[RosterRow]:
    """The rows, or RosterInvalid listing every bad line, duplicate and existing account."""
    if len(data) > MAX_BYTES:
        raise RosterInvalid([f"A roster is at most {MAX_BYTES // 1024} KiB."])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterInvalid(["The roster is not UTF-8 text."]) from None
    rows, errors, first_line = [], [], {}
    for line, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not any(cell.strip() for cell in cells):
            continue
        if line == 1 and tuple(cell.strip().lower() for cell in cells[:2]) == HEADER:
            continue
        row, error = _check(line, cells)
        if error:
            errors.append(error)
            continue
        key = row.username.lower()
        if key in first_line:
            errors.append(f"line {line}: {row.username!r} is already on line {first_line[key]}.")
            continue
        first_line[key] = line
        rows.append(row)
    if len(rows) > MAX_ROWS:
        errors.append(f"A roster has at most {MAX_ROWS} students.")
    existing = {
        name.lower() for name in get_user_model().objects.filter(
            username__in=[row.username for row in rows]).values_list("username", flat=True)
    }
    errors += [f"line {row.line}: an account {row.username!r} already exists." for row in rows
               if row.username.lower() in existing]
    if not rows and not errors:
        errors.append("The roster has no students.")
    if errors:
        raise RosterInvalid(sorted(errors, key=lambda e: int(e.split()[1].rstrip(":")) if e.startswith("line") else 0))
    return rows
