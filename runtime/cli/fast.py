"""`run`'s command line read without argparse, in its common forms.

Importing argparse and building the parser of every sub-command costs a
`python -m runtime run` about as much as starting the container (the
module, a gettext look-up per help text, shutil for the terminal width).
`parse` knows `run`'s options exactly as `containers.register` declares
them, and gives up on anything less plain: -h, abbreviations, `--`,
clusters other than of -d -t -i, a value that begins with '-' or is not a
number where one is due. argparse then parses, or rejects, those, so every
error message stays its own.
"""

from types import SimpleNamespace

_FLAGS = {"--rm": "rm", "-d": "detach", "--detach": "detach", "-t": "tty", "--tty": "tty",
          "-i": "interactive", "--interactive": "interactive"}
_VALUES = {"--name": "name", "--memory": "memory", "--cpus": "cpus", "--cpu-shares": "cpu_shares",
           "--pids-limit": "pids_limit", "--disk": "disk", "--hostname": "hostname", "-e": "env", "--env": "env",
           "-w": "workdir", "--workdir": "workdir", "--user": "user", "--userns": "userns",
           "--network": "network", "--network-alias": "network_alias",
           "-p": "publish", "--publish": "publish", "--dns": "dns"}
_INTS = ("cpu_shares", "pids_limit")
_CHOICES = {"userns": ("auto", "host")}


def _value(argv: list[str], i: int, options: dict[str, str]) -> tuple[str | None, str | None, int]:
    """(dest, value, next index) of the value option at argv[i], or dest None."""
    option, eq, value = argv[i].partition("=")
    dest = options.get(option)
    if dest is None or (eq and not option.startswith("--")):
        return None, None, i
    if not eq:
        if i + 1 == len(argv):
            return None, None, i
        value = argv[i + 1]
        i += 1
    if value.startswith("-"):
        return None, None, i
    return dest, value, i + 1


def parse(argv: list[str]) -> SimpleNamespace | None:
    """The namespace argparse would give for `[--root DIR] run ...`, or None."""
    args = SimpleNamespace(root=None, rm=False, detach=False, tty=False, interactive=False, name=None,
                           memory=None, cpus=None, cpu_shares=None, pids_limit=None, disk=None, hostname=None, env=[],
                           workdir=None, user=None, userns="auto", network="none", network_alias=[], publish=[],
                           dns=[])
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        dest, args.root, i = _value(argv, i, {"--root": "root"})
        if dest is None:
            return None
    if argv[i:i + 1] != ["run"] or "--" in argv:
        return None
    i += 1
    while i < len(argv) and argv[i].startswith("-"):
        token = argv[i]
        if token in _FLAGS:
            setattr(args, _FLAGS[token], True)
            i += 1
            continue
        if token[1:2] != "-" and len(token) > 2 and all("-" + c in _FLAGS for c in token[1:]):
            for c in token[1:]:
                setattr(args, _FLAGS["-" + c], True)
            i += 1
            continue
        dest, value, i = _value(argv, i, _VALUES)
        if dest is None:
            return None
        if dest in ("env", "network_alias", "publish", "dns"):
            getattr(args, dest).append(value)
        elif dest in _INTS:
            try:
                setattr(args, dest, int(value))
            except ValueError:
                return None
        elif value not in _CHOICES.get(dest, (value,)):
            return None
        else:
            setattr(args, dest, value)
    if i == len(argv):
        return None
    args.image, args.command = argv[i], argv[i + 1:]
    return args
