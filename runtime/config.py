"""What a user asks for when creating a container, and the parsing of it.

Every check raises `InvalidArgument` with a one-line message, before
anything is created, so bad input leaves nothing behind.
"""

import re
import socket

from runtime.errors import InvalidArgument
from runtime.records import Record
from runtime.resources import parse_limits

# Patterns, compiled by re (and cached) at their first use, not here: a
# plain `run` uses none of them, and compiling all costs a CLI start 0.3 ms.
# 63 at most: a container's hostname is made from its name (hostname_from_name),
# and a hostname's label holds no more, so two names never share one by truncation.
_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$"
_HOST_LABEL = r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
_ENV_KEY = r"^[^=\0]+$"
# A name as useradd and Docker take one: not starting with a dash, no colon or space.
_USER = r"^([A-Za-z0-9_.][A-Za-z0-9_.-]*\$?)(?::([A-Za-z0-9_.][A-Za-z0-9_.-]*\$?))?$"
USERNS_MODES = ("auto", "host")
# resolv.conf's resolvers read no more nameservers than this (MAXNS).
MAX_DNS = 3


def parse_env(lines) -> dict[str, str]:
    """["K=V", ...] -> {"K": "V"}; a line without `=` is an error."""
    env = {}
    for line in lines or ():
        key, sep, value = line.partition("=")
        if not sep or not re.match(_ENV_KEY, key):
            raise InvalidArgument(f"invalid environment entry {line!r}: use KEY=VALUE")
        env[key] = value
    return env


def parse_user(text: str | None) -> tuple[int | str, int | str | None] | None:
    """`USER[:GROUP]`, each a number or a name -> (user, group).

    Numbers alone give (uid, gid), the gid defaulting to the uid, with no
    file read; a name stays a string for `runtime.isolation.users.resolve`, which reads
    the container's own /etc/passwd and /etc/group (group None: the user's)."""
    if text in (None, ""):
        return None
    match = re.match(_USER, str(text))
    if not match:
        raise InvalidArgument(f"invalid user {text!r}: use USER[:GROUP], each a name or a number")
    user, group = (int(part) if part is not None and part.isdigit() else part for part in match.groups())
    if isinstance(user, int) and group is None:
        group = user
    return user, group


def check_name(name: str) -> str:
    if not re.match(_NAME, name or ""):
        raise InvalidArgument(f"The container name {name!r} is not valid. Use letters, digits, '_', '.' and '-', "
                              "starting with a letter or digit, 63 at most.")
    return name


def check_hostname(hostname: str) -> str:
    """RFC 1123: dot-separated labels of letters, digits and inner dashes, 253 at most."""
    labels = (hostname or "").split(".")
    if len(hostname or "") > 253 or not all(re.match(_HOST_LABEL, label) for label in labels):
        raise InvalidArgument(f"invalid hostname {hostname!r}: must follow RFC 1123")
    return hostname


def hostname_from_name(name: str) -> str:
    """A container name made into a valid hostname (names allow `_` and `.`)."""
    # No regex: every start derives a hostname, and a CLI start would compile one.
    label = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in name)[:63].strip("-")
    return label or "container"


def check_dns(servers: list[str]) -> list[str]:
    """IPv4 addresses only (containers have no IPv6), MAX_DNS at most."""
    for server in servers:
        try:
            socket.inet_pton(socket.AF_INET, server)
        except (OSError, TypeError):
            raise InvalidArgument(f"invalid DNS server {server!r}: use an IPv4 address such as 192.0.2.53") from None
    if len(servers) > MAX_DNS:
        raise InvalidArgument(f"too many DNS servers: {MAX_DNS} at most (resolv.conf reads no more)")
    return servers


class ContainerConfig(Record):
    __slots__ = ("image", "name", "command", "env", "hostname", "workdir", "user", "memory_bytes", "cpus",
                 "cpu_shares", "pids_limit", "disk_bytes", "tty", "interactive", "labels", "volatile", "userns",
                 "network", "network_aliases", "ip", "ports", "dns")

    def __init__(self, image: str, name: str | None = None, command: list[str] | None = None,
                 env: dict[str, str] | None = None, hostname: str | None = None, workdir: str | None = None,
                 user: str | None = None, memory_bytes: int | None = None, cpus: float | None = None,
                 cpu_shares: int | None = None, pids_limit: int | None = None, disk_bytes: int | None = None, tty: bool = False,
                 interactive: bool = False, labels: dict[str, str] | None = None, volatile: bool = False,
                 userns: str = "auto", network: str = "none", network_aliases: list[str] | None = None,
                 ip: str | None = None, ports: list[dict] | None = None, dns: list[str] | None = None):
        self.image = image
        self.name = name
        self.command = command
        self.env = {} if env is None else env
        self.hostname = hostname
        self.workdir = workdir
        self.user = user
        self.memory_bytes = memory_bytes
        self.cpus = cpus
        self.cpu_shares = cpu_shares
        self.pids_limit = pids_limit
        # The most the writable layer may hold; None: no limit (Docker's default).
        self.disk_bytes = disk_bytes
        self.tty = tty
        self.interactive = interactive
        self.labels = {} if labels is None else labels
        # The writable layer is not synced to disk and not kept from one start
        # to the next: for a container removed when it exits (`run --rm`, as
        # podman does). Its exit then skips overlayfs's sync of the whole disk.
        self.volatile = volatile
        # "auto": a user namespace of its own, its root an unprivileged host
        # id (runtime.id_ranges); "host": the host's ids, as before.
        self.userns = userns
        # "none": `lo` only; "bridge" (the default network) or a network's
        # name: an `eth0` on that network (runtime.network). Aliases are more
        # names the network's DNS answers for it; ip is its lease, recorded
        # at create and kept until the container is deleted.
        self.network = network
        self.network_aliases = [] if network_aliases is None else network_aliases
        self.ip = ip
        # Published ports, as runtime.network.ports.parse gives them.
        self.ports = [] if ports is None else ports
        # `--dns`: the nameservers of its resolv.conf instead of its network's
        # DNS service (or the host's resolvers); reached as any other address,
        # so only as far as its network's egress lets it.
        self.dns = [] if dns is None else dns

    def validate(self) -> None:
        if not self.image:
            raise InvalidArgument("an image is required")
        if self.name is not None:
            check_name(self.name)
        if self.hostname is not None:
            check_hostname(self.hostname)
        if self.command is not None and (not isinstance(self.command, list) or not all(isinstance(a, str) for a in self.command)):
            raise InvalidArgument("command must be a list of strings")
        for key in self.env:
            if not re.match(_ENV_KEY, key):
                raise InvalidArgument(f"invalid environment variable name {key!r}")
        if self.workdir is not None and not self.workdir.startswith("/"):
            raise InvalidArgument(f"invalid working directory {self.workdir!r}: must be absolute")
        parse_user(self.user)
        parse_limits(memory=self.memory_bytes, cpus=self.cpus, cpu_shares=self.cpu_shares, pids=self.pids_limit,
                     disk=self.disk_bytes)
        if self.userns not in USERNS_MODES:
            raise InvalidArgument(f"invalid user namespace mode {self.userns!r}: use auto or host")
        if self.network != "none" and not re.match(_NAME, self.network or ""):
            raise InvalidArgument(f"invalid network {self.network!r}: use none, bridge or a network's name")
        if self.network_aliases and self.network == "none":
            raise InvalidArgument("network aliases need a network: add --network")
        if self.ports and self.network == "none":
            raise InvalidArgument("published ports need a network: add --network")
        for alias in self.network_aliases:
            if not re.match(_HOST_LABEL, alias or ""):
                raise InvalidArgument(f"invalid network alias {alias!r}: use letters, digits and inner '-'")
        check_dns(self.dns)

    @classmethod
    def from_dict(cls, data: dict) -> "ContainerConfig":
        # A record from before user namespaces: its layer's files are the host's root's.
        fields = {"userns": "host", **data}
        return cls(**{k: v for k, v in fields.items() if k in cls.__slots__})
