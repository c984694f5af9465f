"""`python -m runtime`: a docker-like command line over the runtime API.

Each command family lives in its own module (`cli_images`, `cli_containers`)
and registers its sub-commands here; this module only parses, dispatches and
turns a `TerrariumError` into one `error:` line and exit status 1.
"""

import argparse
import sys

from runtime import cli_containers, cli_images
from runtime.errors import TerrariumError


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are bad input too: one `error:` line and exit 1."""

    def error(self, message):
        print(f"error: {message}", file=sys.stderr)
        sys.exit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m runtime", description="Terrarium container runtime")
    parser.add_argument("--root", help="state directory (default: $TERRARIUM_ROOT or /var/lib/terrarium)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cli_images.register(commands)
    cli_containers.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except TerrariumError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
