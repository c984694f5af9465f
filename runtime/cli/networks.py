"""`python -m runtime network ...`: create, ls, inspect, update, rm, prune, reconcile, doctor."""

import json

from runtime import settings
from runtime.cli.table import print_table
from runtime.network import doctor, networks
from runtime.network.store import NetworkStore


def register(commands) -> None:
    group = commands.add_parser("network", help="bridge networks of containers")
    sub = group.add_subparsers(dest="network_command", required=True, metavar="COMMAND")

    p = sub.add_parser("create", help="make a network")
    p.add_argument("name")
    p.add_argument("--subnet", help="an IPv4 CIDR (default: the next free /24 of the pool)")
    p.add_argument("--egress", choices=("internet", "open", "none"), default="internet",
                   help="internet: all but private addresses (default); open: anything; none: nothing")
    p.add_argument("--no-icc", action="store_true", help="its containers cannot reach each other")
    p.set_defaults(func=cmd_create)

    p = sub.add_parser("ls", help="list networks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("inspect", help="a network's record as JSON")
    p.add_argument("name")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("update", help="change a network's egress (open connections are cut)")
    p.add_argument("name")
    p.add_argument("--egress", choices=("internet", "open", "none"), required=True)
    p.set_defaults(func=cmd_update)

    p = sub.add_parser("rm", help="remove networks without containers")
    p.add_argument("names", nargs="+", metavar="name")
    p.set_defaults(func=cmd_rm)

    p = sub.add_parser("prune", help="remove every network without containers")
    p.set_defaults(func=cmd_prune)

    p = sub.add_parser("reconcile", help="after a crash or reboot: bridges, policy and DNS again, stale leases freed")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("doctor", help="check what the networks need from the host")
    p.set_defaults(func=cmd_doctor)


def _root(args) -> str:
    root = settings.state_root(args.root)
    settings.secure(root)
    return root


def cmd_create(args) -> None:
    network = networks.create(_root(args), args.name, args.subnet, args.egress, icc=not args.no_icc)
    print(network.id)


def cmd_ls(args) -> None:
    found = NetworkStore(_root(args)).list()
    if args.json:
        print(json.dumps([n.to_dict() for n in found]))
        return
    print_table([("NAME", "SUBNET", "EGRESS", "ICC", "BRIDGE")]
                + [(n.name, n.subnet, n.egress, "yes" if n.icc else "no", n.bridge) for n in found])


def cmd_inspect(args) -> None:
    print(json.dumps(networks.inspect(_root(args), args.name), indent=2))


def cmd_update(args) -> None:
    networks.update(_root(args), args.name, args.egress)


def cmd_rm(args) -> None:
    root = _root(args)
    for name in args.names:
        networks.remove(root, name)
        print(name)


def cmd_prune(args) -> None:
    for name in networks.prune(_root(args)):
        print(name)


def cmd_reconcile(args) -> None:
    done = networks.reconcile(_root(args))
    print(json.dumps(done))


def cmd_doctor(args) -> int:
    results = doctor.checks(_root(args))
    for ok, text in results:
        print(f"{'ok     ' if ok else 'PROBLEM'} {text}")
    return 0 if all(ok for ok, _ in results) else 1
