"""`run`'s argparse-free parsing gives argparse's namespace, or leaves the
command line to argparse."""

import argparse

import pytest

from runtime import cli
from runtime.cli import fast as cli_fast

PLAIN = [
    ["run", "busybox"],
    ["run", "--rm", "busybox", "true"],
    ["--root", "/srv/t", "run", "busybox", "sh", "-c", "exit 3"],
    ["--root=/srv/t", "--root", "/other", "run", "busybox"],
    ["run", "-it", "--rm", "-d", "busybox", "sh"],
    ["run", "-dit", "busybox", "sh"],
    ["run", "--name", "web", "--name=db", "--memory", "64m", "--cpus=0.5", "busybox"],
    ["run", "--cpu-shares", "512", "--pids-limit=20", "busybox", "top", "-b"],
    ["run", "-e", "A=1", "--env", "B=", "--env=C=3", "-w", "/tmp", "--workdir=/", "--user", "1000:1000", "img"],
    ["run", "--hostname", "", "--name=", ""],
    ["run", "busybox", "--rm", "-e", "X=1", "ls", "-la"],
]

DOUBTFUL = [
    [], ["run"], ["-h"], ["run", "-h"], ["run", "--help", "busybox"], ["ps", "-a"], ["images", "ls"],
    ["run", "--mem", "64m", "busybox"], ["run", "--bogus", "busybox"], ["run", "-x", "busybox"],
    ["run", "--name"], ["run", "--name", "-x", "busybox"], ["run", "--cpu-shares", "x", "busybox"],
    ["run", "--pids-limit", "-5", "busybox"], ["run", "-eA=1", "busybox"], ["run", "-e=A=1", "busybox"],
    ["run", "-ite", "A=1", "busybox"], ["run", "--rm=yes", "busybox"], ["run", "--", "busybox"],
    ["run", "busybox", "--", "true"], ["run", "busybox", "ls", "--", "/"], ["run", "-", "true"],
    ["run", "-5", "true"], ["--root", "run", "busybox"], ["--roo", "/x", "run", "busybox"],
    ["--root"], ["run", "--root", "/x", "busybox"], ["run", "--rm"],
]


def full(argv):
    """argparse's namespace for argv, or "rejected"."""
    try:
        args = cli.build_parser().parse_args(argv)
    except SystemExit:
        return "rejected"
    return {k: v for k, v in vars(args).items() if k != "func"}


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_plain_run_lines_are_parsed_as_argparse_parses_them(argv):
    fast = cli_fast.parse(argv)
    assert fast is not None
    assert vars(fast) == full(argv)


@pytest.mark.parametrize("argv", DOUBTFUL, ids=" ".join)
def test_anything_else_is_left_to_argparse_or_parsed_the_same(argv):
    fast = cli_fast.parse(argv)
    assert fast is None or vars(fast) == full(argv)


def test_every_option_of_run_is_known_to_the_fast_path():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in commands.choices["run"]._actions:
        for option in action.option_strings:
            if option in ("-h", "--help"):
                continue
            value = action.choices[0] if action.choices else "7"
            argv = ["run", option, *([] if action.nargs == 0 else [value]), "busybox", "true"]
            fast = cli_fast.parse(argv)
            assert fast is not None, option
            assert vars(fast) == full(argv), option


def test_the_fast_path_runs_the_run_command():
    assert cli.parse_args(["run", "busybox"]).func.__name__ == "cmd_run"
