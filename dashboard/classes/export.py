"""A class's results for a gradebook: a row per student, a column per step
(its state: passed, failed, pending or error), points, attempts and the time
of each step's first pass, as CSV or JSON, from the same reads as the grid."""

import csv
import io


def _iso(value) -> str:
    return value.isoformat() if value else ""


def export_records(grid: dict) -> list[dict]:
    points = {column["step"]: column["points"] for column in grid["columns"]}
    records = []
    for row in grid["rows"]:
        steps = {cell["step"]: {"state": cell["state"], "attempts": cell["attempts"],
                                "first_pass": _iso(cell["passed_at"])} for cell in row["cells"]}
        records.append({
            "username": row["username"], "name": row["name"], "email": row["email"], "steps": steps,
            "points": sum(points[step] for step, cell in steps.items() if cell["state"] == "passed"),
            "attempts": sum(cell["attempts"] for cell in steps.values()),
        })
    return records


def _cell(value):
    """Text a spreadsheet would read as a formula is quoted (CSV injection)."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def _csv(rows) -> str:
    out = io.StringIO()
    csv.writer(out).writerows([[_cell(value) for value in row] for row in rows])
    return out.getvalue()


def passwords_csv(made: list[dict]) -> str:
    """The roster's accounts and their one-time passwords."""
    keys = ("username", "name", "email", "password")
    return _csv([keys, *([row[k] for k in keys] for row in made)])


def export_csv(grid: dict) -> str:
    step_ids = [column["step"] for column in grid["columns"]]
    rows = [["username", "name", "email", *step_ids, "points", "attempts",
             *(f"{step} first pass" for step in step_ids)]]
    for record in export_records(grid):
        steps = record["steps"]
        rows.append([record["username"], record["name"], record["email"], *(steps[s]["state"] for s in step_ids),
                     record["points"], record["attempts"], *(steps[s]["first_pass"] for s in step_ids)])
    return _csv(rows)
