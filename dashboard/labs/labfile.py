"""A lab file: `lab.yaml` alone, or in a zip or a directory beside the
Markdown files it names. Pure Python, no Django: `parse_lab` turns the files
into a plain, JSON-ready definition or raises LabInvalid with every error it
found, each with its line in lab.yaml.

PyYAML's node API (compose, not load) keeps each value's line; values are
checked here, one field at a time, so a typo'd key or a bad limit is
reported where it is, next to every other mistake in the file."""

import re
from dataclasses import dataclass, field

import yaml

from dashboard.labs.params import PARAM_KINDS, parse_param
from dashboard.labs.sources import MAIN_FILE

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
DEFAULT_TIMEOUT = 5.0
MAX_TIMEOUT = 60.0
DEFAULT_FAIL = "Not done yet."
MAX_STEPS = 50
MAX_SCRIPT_BYTES = 64 * 1024
NETWORK_MODES = ("per-student", "shared")
# As the dashboard's networks (dashboard.networks.models.Network.Egress) and the runtime's.
EGRESS = ("internet", "open", "none")


@dataclass(frozen=True)
class LabError:
    line: int | None
    message: str

    def __str__(self):
        return f"line {self.line}: {self.message}" if self.line else self.message


class LabInvalid(Exception):
    def __init__(self, errors: list[LabError]):
        self.errors = sorted(errors, key=lambda e: (e.line or 0, e.message))
        super().__init__("; ".join(str(e) for e in self.errors))


@dataclass
class ParsedLab:
    """The definition (JSON-ready) and where some of its values were, for
    errors found later against the database (the image's name)."""

    definition: dict
    lines: dict = field(default_factory=dict)


def _line(node) -> int:
    return node.start_mark.line + 1


_constructor = yaml.SafeLoader("")


class _Reader:
    """Collects errors while reading nodes; each read returns None when bad."""

    def __init__(self):
        self.errors: list[LabError] = []

    def error(self, node, message: str) -> None:
        self.errors.append(LabError(_line(node) if node is not None else None, message))

    def mapping(self, node, what: str, allowed: set[str], required: set[str] = frozenset()) -> dict | None:
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping of keys to values.")
            return None
        found = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in allowed:
                self.error(key_node, f"{what}: unknown key {key!r} (known: {', '.join(sorted(allowed))}).")
            elif key in found:
                self.error(key_node, f"{what}: {key!r} is given twice.")
            else:
                found[key] = value_node
        for key in sorted(required - found.keys()):
            self.error(node, f"{what}: {key!r} is required.")
        return found

    def value(self, node):
        try:
            return _constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.error(node, f"cannot read this value: {exc}")
            return None

    def text(self, node, what: str, *, max_bytes: int = MAX_SCRIPT_BYTES) -> str | None:
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, str) or not value.strip():
            self.error(node, f"{what} must be non-empty text.")
            return None
        if len(value.encode()) > max_bytes:
            self.error(node, f"{what} is longer than {max_bytes} bytes.")
            return None
        return value

    def number(self, node, what: str, *, low: float, high: float, whole: bool = False):
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else None
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            self.error(node, f"{what} must be a {'whole ' if whole else ''}number.")
            return None
        if not low <= value <= high:
            self.error(node, f"{what} must be between {low:g} and {high:g}, not {value:g}.")
            return None
        return value

    def boolean(self, node, what: str) -> bool | None:
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, bool):
            self.error(node, f"{what} must be true or false.")
            return None
        return value

    def choice(self, node, what: str, choices: tuple[str, ...]) -> str | None:
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else None
        if value not in choices:
            self.error(node, f"{what} must be one of {', '.join(choices)}.")
            return None
        return value

    def sequence(self, node, what: str) -> list:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what} must be a list.")
            return []
        return node.value


class _LabReader(_Reader):
    def __init__(self, files: dict[str, bytes]):
        super().__init__()
        self.files = files
        self.params: dict[str, int] = {}
        self.lines: dict[str, int] = {}

    def markdown(self, node, what: str) -> str | None:
        """Inline Markdown, or `{file: name.md}`: a file beside lab.yaml."""
        if isinstance(node, yaml.MappingNode):
            found = self.mapping(node, what, {"file"}, {"file"})
            if not found:
                return None
            name = self.text(found["file"], f"{what}'s file")
            if name is None:
                return None
            data = self.files.get(name)
            if data is None:
                self.error(found["file"], f"{what}: the file {name!r} is not in the lab.")
                return None
            try:
                return self.placeholders(found["file"], data.decode(), what)
            except UnicodeDecodeError:
                self.error(found["file"], f"{what}: the file {name!r} is not UTF-8 text.")
                return None
        return self.placeholders(node, self.text(node, what), what)

    def placeholders(self, node, text: str | None, what: str) -> str | None:
        if text is None:
            return None
        for name in sorted(set(PLACEHOLDER.findall(text))):
            if name not in self.params:
                self.error(node, f"{what} uses {{{{{name}}}}}, which is not one of the params.")
        return text

    def script(self, node, what: str) -> str | None:
        return self.placeholders(node, self.text(node, what), what)

    def limits(self, node) -> dict:
        from runtime import InvalidArgument, parse_limits

        found = self.mapping(node, "limits", {"memory", "cpus", "pids", "disk"}) or {}
        limits = {}
        for key, value_node in found.items():
            value = self.value(value_node)
            try:
                limits.update({k: v for k, v in parse_limits(**{key: value}).to_dict().items() if v is not None})
            except (InvalidArgument, TypeError) as exc:
                self.error(value_node, str(exc))
        return limits

    def param_list(self, node) -> list[dict]:
        params = []
        for item in self.sequence(node, "params"):
            found = self.mapping(item, "a param", {"name", "type", "min", "max", "bytes", "words"}, {"name", "type"})
            if not found:
                continue
            raw = {key: self.value(value) for key, value in found.items()}
            if raw["type"] not in PARAM_KINDS:
                self.error(found["type"], f"a param's type must be one of {', '.join(PARAM_KINDS)}.")
                continue
            try:
                param = parse_param(raw)
            except ValueError as exc:
                self.error(item, str(exc))
                continue
            if param["name"] in self.params:
                self.error(found["name"], f"the param {param['name']} is defined twice.")
                continue
            self.params[param["name"]] = _line(item)
            params.append(param)
        return params

    def check(self, node, where: str) -> dict | None:
        found = self.mapping(node, f"{where}'s check", {"run", "timeout", "fail", "points", "auto"}, {"run"})
        if found is None:
            return None
        check = {"run": self.script(found["run"], f"{where}'s check run") if "run" in found else None,
                 "timeout": DEFAULT_TIMEOUT, "fail": DEFAULT_FAIL, "points": 1, "auto": False}
        if "timeout" in found:
            check["timeout"] = self.number(found["timeout"], f"{where}'s check timeout", low=0.1, high=MAX_TIMEOUT)
        if "fail" in found:
            check["fail"] = self.placeholders(found["fail"], self.text(found["fail"], f"{where}'s fail message",
                                                                       max_bytes=500), f"{where}'s fail message")
        if "points" in found:
            check["points"] = self.number(found["points"], f"{where}'s points", low=0, high=1000, whole=True)
        if "auto" in found:
            check["auto"] = self.boolean(found["auto"], f"{where}'s auto")
        return check

    def hint_list(self, node, where: str) -> list[dict]:
        hints = []
        for item in self.sequence(node, f"{where}'s hints"):
            found = self.mapping(item, f"{where}'s hint", {"text", "after_seconds", "after_failures"}, {"text"})
            if not found:
                continue
            hint = {"text": self.markdown(found["text"], f"{where}'s hint") if "text" in found else None,
                    "after_seconds": 0, "after_failures": 0}
            if "after_seconds" in found:
                hint["after_seconds"] = self.number(found["after_seconds"], f"{where}'s hint after_seconds",
                                                    low=0, high=24 * 3600, whole=True)
            if "after_failures" in found:
                hint["after_failures"] = self.number(found["after_failures"], f"{where}'s hint after_failures",
                                                     low=0, high=100, whole=True)
            hints.append(hint)
        return hints

    def step_list(self, node) -> list[dict]:
        steps, seen = [], set()
        items = self.sequence(node, "steps")
        if isinstance(node, yaml.SequenceNode) and not items:
            self.error(node, "steps: a lab has at least one step.")
        if len(items) > MAX_STEPS:
            self.error(node, f"steps: a lab has at most {MAX_STEPS} steps.")
        for number, item in enumerate(items, 1):
            found = self.mapping(item, f"step {number}", {"id", "title", "text", "check", "hints", "solve"},
                                 {"id", "title", "text", "check"})
            if found is None:
                continue
            step_id = self.value(found["id"]) if "id" in found else None
            where = f"step {step_id or number}"
            if "id" in found:
                if not isinstance(step_id, str) or not STEP_ID.match(step_id):
                    self.error(found["id"], f"{where}: an id is lowercase letters, digits, - and _ (at most 40).")
                elif step_id in seen:
                    self.error(found["id"], f"{where}: another step has the id {step_id!r}.")
                seen.add(step_id)
            steps.append({
                "id": step_id,
                "title": self.text(found["title"], f"{where}'s title", max_bytes=200) if "title" in found else None,
                "text": self.markdown(found["text"], f"{where}'s text") if "text" in found else None,
                "check": self.check(found["check"], where) if "check" in found else None,
                "hints": self.hint_list(found["hints"], where) if "hints" in found else [],
                "solve": self.script(found["solve"], f"{where}'s solve") if "solve" in found else None,
            })
        return steps

    def lab(self, root) -> dict:
        found = self.mapping(root, MAIN_FILE, {"title", "description", "image", "limits", "params", "setup", "steps",
                                               "network", "egress"}, {"title", "image", "steps"})
        if found is None:
            return {}
        # Params first: every text may name them.
        params = self.param_list(found["params"]) if "params" in found else []
        if "image" in found:
            self.lines["image"] = _line(found["image"])
        return {
            "title": self.text(found["title"], "title", max_bytes=200) if "title" in found else None,
            "description": self.markdown(found["description"], "description") if "description" in found else "",
            "image": self.text(found["image"], "image", max_bytes=200) if "image" in found else None,
            "limits": self.limits(found["limits"]) if "limits" in found else {},
            "params": params,
            "setup": self.script(found["setup"], "setup") if "setup" in found else "",
            "steps": self.step_list(found["steps"]) if "steps" in found else [],
            # One network per student (the default) or one for all the lab's instances, and its egress.
            "network": self.choice(found["network"], "network", NETWORK_MODES) if "network" in found else "per-student",
            "egress": self.choice(found["egress"], "egress", EGRESS) if "egress" in found else "internet",
        }


def parse_lab(files: dict[str, bytes]) -> ParsedLab:
    """files: lab.yaml and the files beside it (names relative to it) -> ParsedLab, or LabInvalid."""
    data = files.get(MAIN_FILE)
    if data is None:
        raise LabInvalid([LabError(None, f"The lab has no {MAIN_FILE}.")])
    try:
        text = data.decode()
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except UnicodeDecodeError:
        raise LabInvalid([LabError(None, f"{MAIN_FILE} is not UTF-8 text.")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise LabInvalid([LabError(mark.line + 1 if mark else None, f"not valid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise LabInvalid([LabError(None, f"not valid YAML: {exc}")]) from None
    if root is None:
        raise LabInvalid([LabError(None, f"{MAIN_FILE} is empty.")])
    reader = _LabReader(files)
    definition = reader.lab(root)
    if reader.errors:
        raise LabInvalid(reader.errors)
    return ParsedLab(definition=definition, lines=reader.lines)


def lab_points(definition: dict) -> int:
    return sum(step["check"]["points"] for step in definition["steps"])
