"""`python -m runtime`: a docker-like command line over the runtime API.

Each command family lives in its own module (`images`, `containers`, `checks`)
and registers its sub-commands here; this module only parses, dispatches,
opens the Runtime a command asks for and turns a `TerrariumError` into one
`error:` line and exit status 1.

`run` in its plain forms skips argparse (`fast`), and each family is
imported only when its commands are needed: a container start from the
command line is mostly Python's own start-up, and every import adds to it.
"""

import os
import sys

from runtime.cli import fast
from runtime.errors import TerrariumError


def build_parser():
    # Only when the fast path gave up: argparse and every family's module cost a `run` ~5 ms.
    import argparse

    from runtime.cli import checks, containers, images, networks

    class Parser(argparse.ArgumentParser):
        """Usage mistakes are bad input too: one `error:` line and exit 1."""

        def error(self, message):
            print(f"error: {message}", file=sys.stderr)
            sys.exit(1)

    parser = Parser(prog="python -m runtime", description="Terrarium container runtime")
    parser.add_argument("--root", help="state directory (default: $TERRARIUM_ROOT or /var/lib/terrarium)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    images.register(commands)
    containers.register(commands)
    networks.register(commands)
    checks.register(commands)
    return parser


def parse_args(argv: list[str]):
    args = fast.parse(argv)
    if args is None:
        return build_parser().parse_args(argv)
    # The one family a plain `run` needs.
    from runtime.cli.containers import cmd_run

    args.func = cmd_run
    return args


def open_runtime(root: str | None, **options):
    """The Runtime a command works on, handed to it as `args.open_runtime(**options)`:
    the command modules use one without importing runtime.lifecycle, so that they,
    like the images and networks commands, stay below it."""
    # Imported here: image and network commands have no use for it.
    from runtime.lifecycle import Runtime

    return Runtime(root=root, **options)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.open_runtime = lambda **options: open_runtime(args.root, **options)
    if os.geteuid() != 0:
        print("error: the runtime needs root: its state is root's alone, and containers need namespaces, mounts and cgroups",
              file=sys.stderr)
        return 1
    # Everything the runtime writes is root's alone, whatever the caller's umask.
    os.umask(0o077)
    try:
        return args.func(args) or 0
    except TerrariumError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
