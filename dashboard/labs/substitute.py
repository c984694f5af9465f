"""{{NAME}} in texts, setup and checks, replaced by the student's values."""

from dashboard.labs.labfile import PLACEHOLDER


def substitute(text: str, values: dict[str, str]) -> str:
    # The lab file's names were checked on import: every one is a param.
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
