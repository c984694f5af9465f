"""`manage.py lab validate FILE`: what a lab file holds, or every error with its line."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dashboard.labs.labfile import LabInvalid, lab_points, parse_lab
from dashboard.labs.sources import LabSourceError, files_from_path


def describe(definition: dict) -> list[str]:
    limits = ", ".join(f"{k}={v}" for k, v in definition["limits"].items()) or "none"
    lines = [
        f"title: {definition['title']}",
        f"image: {definition['image']}",
        f"limits: {limits}",
        f"setup: {'yes' if definition['setup'] else 'no'}",
        f"steps: {len(definition['steps'])}, {lab_points(definition)} points",
    ]
    for step in definition["steps"]:
        check = step["check"]
        extra = "".join([", auto" if check["auto"] else "", f", {len(step['hints'])} hints" if step["hints"] else "",
                         ", solve" if step["solve"] else ""])
        lines.append(f"  {step['id']}: {step['title']} ({check['points']} points, timeout {check['timeout']:g}s{extra})")
    lines.append(f"params: {len(definition['params'])}")
    for param in definition["params"]:
        detail = {"int": lambda p: f"{p['min']}..{p['max']}", "hex": lambda p: f"{p['bytes']} bytes",
                  "word": lambda p: f"one of {len(p['words'])} words"}[param["type"]](param)
        lines.append(f"  {param['name']}: {param['type']} {detail}")
    return lines


class Command(BaseCommand):
    help = "Lab files. `lab validate FILE`: FILE is lab.yaml, a zip or a directory."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        validate = sub.add_parser("validate", help="print what the lab file holds, or every error with its line")
        validate.add_argument("file", type=Path)

    def handle(self, *args, action, file, **options):
        try:
            parsed = parse_lab(files_from_path(file))
        except LabSourceError as exc:
            raise CommandError(str(exc)) from None
        except LabInvalid as exc:
            for error in exc.errors:
                self.stderr.write(f"{file}: {error}")
            raise CommandError(f"{len(exc.errors)} error(s) in {file}.") from None
        self.stdout.write("\n".join(describe(parsed.definition)))
