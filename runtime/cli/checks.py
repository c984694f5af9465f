"""`python -m runtime check NAME < script`: a lab's check, reported as
timeout(1) reports a command: the script's output (stdout and stderr in the
order written), then its exit code; 124 when it timed out, 125 when it
could not be run."""

import sys

from runtime.config import parse_env
from runtime.errors import TerrariumError
from runtime.resources import parse_size

TIMED_OUT = 124
NOT_RUN = 125


def register(commands) -> None:
    p = commands.add_parser("check", help="run a check script, read from stdin, as root in a running container")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S", help="seconds, at most 60 (default 5)")
    p.add_argument("--memory", default="64m", metavar="SIZE", help="the check's own memory limit (default 64m)")
    p.add_argument("--pids", type=int, default=64, metavar="N", help="the check's own pids limit (default 64)")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V")
    p.add_argument("container")
    p.set_defaults(func=cmd_check)


def cmd_check(args) -> int:
    script = sys.stdin.buffer.read()
    try:
        result = args.open_runtime().check(args.container, script, env=parse_env(args.env), timeout=args.timeout,
                                           memory=parse_size(args.memory, "memory limit"), pids=args.pids)
    except TerrariumError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return NOT_RUN
    sys.stdout.buffer.write(result.output)
    sys.stdout.flush()
    if result.truncated:
        print(f"note: output cut at {len(result.output)} bytes", file=sys.stderr)
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
    if result.timed_out:
        return TIMED_OUT
    return NOT_RUN if result.exit_code is None else result.exit_code
