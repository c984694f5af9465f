"""Networks and address leases on disk.

    <root>/networks/.lock                 held while networks are created, changed or removed
    <root>/networks/<name>/network.json   the network (written atomically)
    <root>/networks/<name>/leases/<ip>    symlink to the id of the container holding the address

A lease is taken when a container is created and given back when it is
deleted, so a container keeps its address across restarts; symlink(2)
fails if the address is taken, so two creates never get the same one.
Everything is root's alone (0700 directories, 0600 files).
"""

import json
import os
import re
import time

from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.linux.locks import directory_locked
from runtime.network import addresses

EGRESS = ("internet", "open", "none")
DEFAULT_NETWORK = "bridge"
# Modes of `run --network` that are no network of the store.
RESERVED = ("none", "host")
_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$"


class Network:
    __slots__ = ("id", "name", "subnet", "gateway", "bridge", "egress", "icc", "mtu", "created_at")

    def __init__(self, id, name, subnet, gateway, bridge, egress="internet", icc=True, mtu=addresses.DEFAULT_MTU,
                 created_at=""):
        self.id, self.name, self.subnet, self.gateway, self.bridge = id, name, subnet, gateway, bridge
        self.egress, self.icc, self.mtu, self.created_at = egress, icc, mtu, created_at

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    @property
    def prefix(self) -> int:
        return int(self.subnet.rsplit("/", 1)[1])


def check_egress(egress: str) -> str:
    if egress not in EGRESS:
        raise InvalidArgument(f"invalid egress {egress!r}: use internet, open or none")
    return egress


class NetworkStore:
    def __init__(self, root: str):
        self.root = f"{root}/networks"

    def _dir(self, name: str) -> str:
        return f"{self.root}/{name}"

    def locked(self):
        return directory_locked(self.root)

    def names(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.root) if not n.startswith("."))
        except FileNotFoundError:
            return []

    def get(self, name: str) -> Network:
        if not re.match(_NAME, name or ""):
            raise NotFound(f"no such network: {name}")
        try:
            with open(f"{self._dir(name)}/network.json") as f:
                return Network(**json.load(f))
        except FileNotFoundError:
            raise NotFound(f"no such network: {name}") from None

    def list(self) -> list[Network]:
        found = []
        for name in self.names():
            try:
                found.append(self.get(name))
            except NotFound:
                continue
        return found

    def write(self, network: Network) -> None:
        path = f"{self._dir(network.name)}/network.json"
        tmp = f"{path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(network.to_dict(), f)
        os.rename(tmp, path)

    def create(self, name: str, subnet: str | None = None, egress: str = "internet", icc: bool = True) -> Network:
        """Call with the store locked."""
        if not re.match(_NAME, name or "") or name in RESERVED:
            raise InvalidArgument(f"invalid network name {name!r}: use letters, digits, '_', '.' and '-', "
                                  "starting with a letter or digit, 63 at most (not none or host)")
        check_egress(egress)
        # Here only: ipaddress costs a start ~1 ms.
        import ipaddress

        taken = [ipaddress.IPv4Network(n.subnet) for n in self.list()]
        if subnet is None:
            chosen = addresses.free_subnet(taken)
            if chosen is None:
                raise Conflict(f"no free subnet left in the pool {addresses.pool()}")
        else:
            try:
                chosen = ipaddress.IPv4Network(subnet)
            except ValueError:
                raise InvalidArgument(f"invalid subnet {subnet!r}: use an IPv4 CIDR such as 10.89.0.0/24") from None
            # At most 4094 addresses: the policy lists each one (runtime.network.policy).
            if not 20 <= chosen.prefixlen <= 29:
                raise InvalidArgument(f"invalid subnet {subnet}: its prefix must be /20 to /29")
            clash = next((n for n in self.list() if chosen.overlaps(ipaddress.IPv4Network(n.subnet))), None)
            if clash is not None:
                raise Conflict(f"subnet {subnet} overlaps network {clash.name}'s {clash.subnet}")
        network = Network(id=os.urandom(6).hex(), name=name, subnet=str(chosen),
                          gateway=str(next(chosen.hosts())), bridge="", egress=egress, icc=icc,
                          mtu=addresses.uplink_mtu(), created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        network.bridge = f"tb-{network.id[:8]}"
        try:
            os.makedirs(f"{self._dir(name)}/leases", mode=0o700)
        except FileExistsError:
            raise Conflict(f"network {name} already exists") from None
        self.write(network)
        return network

    def remove(self, name: str) -> None:
        """Call with the store locked."""
        if self.leases(name):
            raise Conflict(f"network {name} has containers: delete them first")
        # Here only: a start has no use for shutil.
        import shutil

        shutil.rmtree(self._dir(name))

    def leases(self, name: str) -> dict[str, str]:
        """{address: container id}"""
        directory = f"{self._dir(name)}/leases"
        try:
            return {ip: os.readlink(f"{directory}/{ip}") for ip in os.listdir(directory)}
        except FileNotFoundError:
            return {}

    def lease(self, network: Network, cid: str) -> str:
        directory = f"{self._dir(network.name)}/leases"
        taken = set(os.listdir(directory))
        for address in addresses.hosts(network.subnet):
            if address in taken:
                continue
            try:
                os.symlink(cid, f"{directory}/{address}")
                return address
            except FileExistsError:
                continue
        raise Conflict(f"network {network.name} has no free address left")

    def release(self, name: str, address: str, cid: str) -> None:
        path = f"{self._dir(name)}/leases/{address}"
        try:
            if os.readlink(path) == cid:
                os.unlink(path)
        except FileNotFoundError:
            pass
