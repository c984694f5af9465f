"""What a check's result means for its step: exit 0 passed; 1-125 failed with
the step's fail text and the first FAIL: line; a timeout, 126, 127, a signal
or no exit at all mean the check is broken (an error, not the student's fault)."""

from types import SimpleNamespace

import pytest

from dashboard.labs.outcomes import check_outcome


def result(exit_code=0, output=b"", timed_out=False, error=None):
    return SimpleNamespace(exit_code=exit_code, output=output, truncated=False, duration=0.1, timed_out=timed_out,
                           error=error)


def outcome(**kwargs):
    found = check_outcome(result=result(**kwargs), fail="Not done yet.", timeout=5)
    return found.state, found.message


def test_exit_zero_passes():
    assert outcome(exit_code=0, output=b"FAIL: ignored") == ("passed", "")


@pytest.mark.parametrize("code", [1, 2, 125])
def test_exit_1_to_125_fails_with_the_fail_text_and_the_first_fail_line(code):
    output = b"checking\nFAIL: no file /tmp/x\nFAIL: second\n"
    assert outcome(exit_code=code, output=output) == ("failed", "Not done yet. no file /tmp/x")


def test_a_failure_without_a_fail_line_shows_the_fail_text():
    assert outcome(exit_code=1, output=b"nothing useful\n") == ("failed", "Not done yet.")


@pytest.mark.parametrize("kwargs, words", [
    ({"exit_code": None, "timed_out": True, "error": "timed out after 5 s"}, "did not finish within 5 s"),
    ({"exit_code": 126}, "exit 126"),
    ({"exit_code": 127}, "exit 127"),
    ({"exit_code": 137}, "signal 9"),
    ({"exit_code": None}, "without an exit status"),
    ({"exit_code": None, "error": "cannot exec in container c1"}, "could not run: cannot exec in container c1"),
])
def test_a_broken_check_is_an_error(kwargs, words):
    state, message = outcome(**kwargs)
    assert state == "error" and words in message
