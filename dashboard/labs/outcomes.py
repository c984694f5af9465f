"""What a check's run means: exit 0 passed; 1 to 125 failed (the step's fail
text and the script's first FAIL: line); a timeout, 126 (cannot execute),
127 (not found), a signal or no exit at all mean the check itself is broken."""

from dataclasses import dataclass

PASSED, FAILED, ERROR = "passed", "failed", "error"


@dataclass(frozen=True)
class Outcome:
    state: str
    message: str


def _fail_line(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("FAIL:"):
            return line[len("FAIL:"):].strip()
    return ""


def check_outcome(*, result, fail: str, timeout: float) -> Outcome:
    """result: a runtime CheckResult; fail: the step's fail text (params substituted)."""
    # A timeout first: the runtime also gives it as the run's error.
    if result.timed_out:
        return Outcome(ERROR, f"The check did not finish within {timeout:g} s.")
    if result.error is not None:
        return Outcome(ERROR, f"The check could not run: {result.error}")
    code = result.exit_code
    if code is None:
        return Outcome(ERROR, "The check ended without an exit status.")
    if code == 0:
        return Outcome(PASSED, "")
    if code <= 125:
        line = _fail_line(result.output.decode(errors="replace"))
        return Outcome(FAILED, f"{fail} {line}".strip() if line else fail)
    if code == 126:
        return Outcome(ERROR, "The check's script or interpreter cannot be executed (exit 126).")
    if code == 127:
        return Outcome(ERROR, "The check's interpreter or a command it runs was not found (exit 127).")
    return Outcome(ERROR, f"The check was killed by signal {code - 128} (exit {code}).")
