"""Container commands of `python -m runtime`: run, exec, ps, inspect, stats,
logs, stop, kill, pause, unpause, rm."""

import json
import os
import select
import signal
import sys
import time

from runtime.cli.table import print_table
from runtime.config import ContainerConfig, parse_env
from runtime.errors import InvalidArgument
from runtime.isolation import terminal
from runtime.resources import parse_limits
from runtime.shim import attach


def _runtime(args):
    # The node's shared forker: the shims of containers started from separate
    # commands then share its pages, not each its own copy of a CLI's.
    return args.open_runtime(shared_forker=True)


def register(commands) -> None:
    """The sub-commands for argparse; `fast` knows `run`'s options too: change both."""
    import argparse

    p = commands.add_parser("run", help="create and start a container")
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument("-d", "--detach", action="store_true", help="print the id and leave it running")
    _config_options(p, argparse)
    p.set_defaults(func=cmd_run)

    p = commands.add_parser("create", help="create a container; prints its id")
    _config_options(p, argparse)
    p.set_defaults(func=cmd_create, rm=False)

    p = commands.add_parser("start", help="start created or exited containers")
    p.add_argument("containers", nargs="+", metavar="container")
    p.set_defaults(func=cmd_start)

    p = commands.add_parser("exec", help="run a command in a running container")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V")
    p.add_argument("-u", "--user", metavar="USER[:GROUP]")
    p.add_argument("container")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_exec)

    p = commands.add_parser("ps", help="list containers")
    p.add_argument("-a", "--all", action="store_true", help="include stopped containers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ps)

    p = commands.add_parser("inspect", help="a container's record as JSON")
    p.add_argument("container")
    p.set_defaults(func=cmd_inspect)

    p = commands.add_parser("stats", help="resource usage")
    p.add_argument("container")
    p.add_argument("--no-stream", action="store_true", help="print one sample and exit")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = commands.add_parser("logs", help="the main process's output")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("container")
    p.set_defaults(func=cmd_logs)

    for name, func, text in (("stop", cmd_stop, "SIGTERM, then SIGKILL after 10 s"),
                             ("pause", cmd_pause, "freeze every process"),
                             ("unpause", cmd_unpause, "thaw a paused container")):
        p = commands.add_parser(name, help=text)
        p.add_argument("containers", nargs="+", metavar="container")
        p.set_defaults(func=func)

    p = commands.add_parser("kill", help="send a signal to the main process")
    p.add_argument("-s", "--signal", default="KILL")
    p.add_argument("containers", nargs="+", metavar="container")
    p.set_defaults(func=cmd_kill)

    p = commands.add_parser("commit", help="save a container's layer on its image as a new image; prints its id")
    p.add_argument("container")
    p.add_argument("--name", required=True, help="the new image's name")
    p.set_defaults(func=cmd_commit)

    p = commands.add_parser("rm", help="remove containers")
    p.add_argument("-f", "--force", action="store_true", help="kill a running container first")
    p.add_argument("containers", nargs="+", metavar="container")
    p.set_defaults(func=cmd_rm)


def _config_options(p, argparse) -> None:
    p.add_argument("-t", "--tty", action="store_true", help="give the command a terminal")
    p.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
    p.add_argument("--name")
    p.add_argument("--memory", help="memory limit, e.g. 64m")
    p.add_argument("--cpus", help="CPU limit, e.g. 0.5")
    p.add_argument("--cpu-shares", type=int)
    p.add_argument("--pids-limit", type=int)
    p.add_argument("--disk", help="the writable layer's size limit, e.g. 1g")
    p.add_argument("--hostname")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V")
    p.add_argument("-w", "--workdir")
    p.add_argument("--user", metavar="USER[:GROUP]")
    p.add_argument("--userns", choices=("auto", "host"), default="auto",
                   help="auto: a user namespace of its own (default); host: the host's ids")
    p.add_argument("--network", default="none",
                   help="none (the default: lo only, stricter than Docker's bridge), bridge or a network's name")
    p.add_argument("--network-alias", action="append", default=[], metavar="ALIAS",
                   help="another name the network's DNS answers for this container")
    p.add_argument("-p", "--publish", action="append", default=[], metavar="[HOSTIP:]HOSTPORT:CONTAINERPORT[/udp]",
                   help="forward a port of the host to the container (needs --network)")
    p.add_argument("--dns", action="append", default=[], metavar="IP",
                   help="a nameserver for its resolv.conf instead of the network's DNS (repeatable; "
                        "reached only as far as the network's egress allows)")
    p.add_argument("image")
    p.add_argument("command", nargs=argparse.REMAINDER)


def _ports(specs: list[str]) -> list[dict]:
    if not specs:
        return []
    # Only for -p: a plain run needs none of runtime.network.
    from runtime.network import ports

    return [ports.parse(spec) for spec in specs]


def _config(args) -> ContainerConfig:
    return ContainerConfig(
        image=args.image, name=args.name, command=args.command or None, env=parse_env(args.env),
        hostname=args.hostname, workdir=args.workdir, user=args.user,
        tty=args.tty, interactive=args.interactive, volatile=args.rm, userns=args.userns,
        network=args.network, network_aliases=args.network_alias, ports=_ports(args.publish),
        dns=args.dns,
        **parse_limits(memory=args.memory, cpus=args.cpus, cpu_shares=args.cpu_shares, pids=args.pids_limit,
                       disk=args.disk).fields(),
    )


def cmd_run(args) -> int:
    if args.rm and args.detach:
        raise InvalidArgument("--rm and -d cannot be combined: nothing would remove the container")
    cfg = _config(args)
    rt = _runtime(args)
    if args.detach:
        print(rt.run(cfg).id)
        return 0
    state, conn = rt.run(cfg, attach=True)
    try:
        code = _attached(conn, interactive=args.interactive, tty=args.tty)
    finally:
        conn.close()
    if code is None:
        code = rt.wait(state.id).exit_code
    if args.rm:
        rt.wait(state.id)
        rt.delete(state.id, force=True)
    return code


def _raw(fd: int) -> list:
    """Put our terminal in raw mode; its previous settings, for _restore."""
    # Imported here: only -t on a terminal needs them.
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    return saved


def _restore(fd: int, saved: list) -> None:
    import termios

    termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _attached(conn: attach.Attachment, interactive: bool, tty: bool) -> int | None:
    """Copy frames to our stdout/stderr and stdin to the container until it exits."""
    stdin = sys.stdin.fileno() if interactive else None
    saved = None
    if tty and stdin is not None and os.isatty(stdin):
        saved = _raw(stdin)
        conn.resize(*terminal.size(stdin))
        signal.signal(signal.SIGWINCH, lambda *_: conn.resize(*terminal.size(stdin)))
    try:
        while True:
            ready, _, _ = select.select([conn] + ([stdin] if stdin is not None else []), [], [])
            if stdin in ready:
                data = os.read(stdin, 65536)
                if data:
                    conn.send_input(data)
                else:
                    conn.close_input()
                    stdin = None
            if conn in ready:
                message = conn.read()
                if message is None:
                    return None
                kind, payload = message
                if kind == attach.EXIT:
                    return int(payload)
                out = sys.stdout if kind == attach.OUT else sys.stderr
                out.buffer.write(payload)
                out.flush()
    finally:
        if saved is not None:
            _restore(sys.stdin.fileno(), saved)


def cmd_exec(args) -> int:
    if not args.command:
        raise InvalidArgument("exec needs a command")
    rt = _runtime(args)
    rows, cols = terminal.size(0) if args.tty and os.isatty(0) else (24, 80)
    sess = rt.exec(args.container, args.command, tty=args.tty, env=parse_env(args.env), user=args.user,
                   rows=rows, cols=cols)
    try:
        _pump_exec(sess, args)
        return sess.wait()
    finally:
        sess.close()


def _pump_exec(sess, args) -> None:
    stdin = 0 if args.interactive else None
    outputs = {sess.fd: sys.stdout} if args.tty else {sess.stdout: sys.stdout, sess.stderr: sys.stderr}
    target = sess.fd if args.tty else sess.stdin
    if not args.tty and not args.interactive:
        os.close(sess.stdin)
        sess.stdin = None
    saved = None
    if args.tty and stdin is not None and os.isatty(stdin):
        saved = _raw(stdin)
        signal.signal(signal.SIGWINCH, lambda *_: sess.resize(*terminal.size(stdin)))
    try:
        while outputs:
            ready, _, _ = select.select(list(outputs) + ([stdin] if stdin is not None else []), [], [])
            if stdin in ready:
                data = os.read(stdin, 65536)
                if data:
                    os.write(target, data)
                else:
                    stdin = None
                    if not args.tty:
                        os.close(sess.stdin)
                        sess.stdin = None
            for fd in [fd for fd in ready if fd in outputs]:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    del outputs[fd]
                    continue
                outputs[fd].buffer.write(data)
                outputs[fd].flush()
    finally:
        if saved is not None:
            _restore(0, saved)


def cmd_ps(args) -> int:
    states = _runtime(args).list(all=args.all)
    if args.json:
        print(json.dumps([s.to_dict() for s in states], indent=2))
        return 0
    rows = [("CONTAINER ID", "NAME", "IMAGE", "STATUS", "PID", "COMMAND")]
    for s in states:
        status = f"exited ({s.exit_code})" if s.status == "exited" else s.status
        command = " ".join((s.config or {}).get("command") or [])
        rows.append((s.id[:12], s.name, s.image, status, str(s.pid or ""), command))
    print_table(rows)
    return 0


def cmd_inspect(args) -> int:
    print(json.dumps(_runtime(args).inspect(args.container), indent=2))
    return 0


STATS_KEYS = ("cpu_percent", "cpu_usage_ns", "memory_bytes", "memory_working_set_bytes",
              "memory_limit_bytes", "pids", "oom_kills")


def cmd_stats(args) -> int:
    rt = _runtime(args)
    state = rt.get(args.container)
    rt.stats(state.id)
    while True:
        if args.no_stream:
            # cpu_percent needs two samples; a short gap gives the first a meaning.
            time.sleep(0.2)
        sample = rt.stats(state.id)
        if args.json:
            print(json.dumps({"id": state.id, "name": state.name, **sample}))
        else:
            print("  ".join(f"{k}={sample[k]}" for k in STATS_KEYS))
        sys.stdout.flush()
        if args.no_stream or rt.get(state.id).status not in ("running", "paused"):
            return 0
        time.sleep(1)


def cmd_logs(args) -> int:
    for entry in _runtime(args).logs(args.container, follow=args.follow):
        out = sys.stdout if entry["stream"] == "stdout" else sys.stderr
        out.buffer.write(entry["data"])
        out.flush()
    return 0


def _each(args, action) -> int:
    rt = _runtime(args)
    for ref in args.containers:
        action(rt, ref)
        print(ref)
    return 0


def cmd_create(args) -> int:
    print(_runtime(args).create(_config(args)).id)
    return 0


def cmd_start(args) -> int:
    return _each(args, lambda rt, ref: rt.start(ref))


def cmd_stop(args) -> int:
    return _each(args, lambda rt, ref: rt.stop(ref))


def cmd_commit(args) -> int:
    print(_runtime(args).commit(args.container, args.name).id)
    return 0


def cmd_pause(args) -> int:
    return _each(args, lambda rt, ref: rt.pause(ref))


def cmd_unpause(args) -> int:
    return _each(args, lambda rt, ref: rt.unpause(ref))


def cmd_rm(args) -> int:
    return _each(args, lambda rt, ref: rt.delete(ref, force=args.force))


def parse_signal(text: str) -> signal.Signals:
    name = text.upper()
    try:
        return signal.Signals(int(name)) if name.isdigit() else signal.Signals[name if name.startswith("SIG") else "SIG" + name]
    except (KeyError, ValueError):
        raise InvalidArgument(f"invalid signal {text!r}") from None


def cmd_kill(args) -> int:
    sig = parse_signal(args.signal)
    return _each(args, lambda rt, ref: rt.kill(ref, sig))
