"""The uid and gid ranges containers' user namespaces map to.

`make setup` registers a pool in /etc/subuid and /etc/subgid (as Podman's
`--userns=auto` reads its own): by default 1000 slots of 65536 ids from
1000000, under the name `terrarium-userns`, which is no account: an entry
under a login name (the web user is `terrarium`) would let that account map
the containers' ids into a user namespace of its own with newuidmap. Each container holds one slot from
its first start until its deletion, so the files of its writable layer
keep their owners across restarts and re-adoption; a slot is a file
`<root>/userns/<n>` naming the container. Claims, releases and reclaims
read and change slots under one flock (`<root>/userns/.lock`): a reclaim
that read a slot's holder would otherwise unlink the slot a claim made
meanwhile, and two live containers would share a range.
"""

import os

from runtime.errors import NotPermitted
from runtime.linux.locks import directory_locked

SIZE = 65536
POOL_USER = "terrarium-userns"
DIRECTORY = "userns"


def pool(user: str | None = None, subuid: str = "/etc/subuid", subgid: str = "/etc/subgid") -> tuple[int, int]:
    """(first id, number of slots) of the pool registered for user in both files, the same in each."""
    user = user or os.environ.get("TERRARIUM_USERNS_USER") or POOL_USER
    found = [_entry(path, user) for path in (subuid, subgid)]
    if None in found or found[0] != found[1]:
        raise NotPermitted(f"no id range for user namespaces: {subuid} and {subgid} need the same entry "
                           f"'{user}:START:COUNT' (make setup adds one), or run with --userns=host")
    start, count = found[0]
    if count < SIZE:
        raise NotPermitted(f"the id range of '{user}' in {subuid} holds fewer than {SIZE} ids")
    return start, count // SIZE


def _entry(path: str, user: str) -> tuple[int, int] | None:
    try:
        with open(path) as f:
            for line in f:
                name, _, rest = line.strip().partition(":")
                if name == user:
                    start, _, count = rest.partition(":")
                    if start.isdigit() and count.isdigit():
                        return int(start), int(count)
    except FileNotFoundError:
        pass
    return None


def claim(root: str, cid: str) -> int:
    """The first id of a free slot, now held for container cid. When none is
    free, slots whose container is gone (deleted while the runtime was not
    there to free them) are reclaimed first."""
    start, slots = pool()
    directory = f"{root}/{DIRECTORY}"
    with directory_locked(directory):
        for attempt in range(2):
            taken = set(os.listdir(directory))
            for n in range(slots):
                if str(n) in taken:
                    continue
                fd = os.open(f"{directory}/{n}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                try:
                    os.write(fd, cid.encode())
                finally:
                    os.close(fd)
                return start + n * SIZE
            if attempt == 0:
                _reclaim(root, directory)
    raise NotPermitted(f"every one of the {slots} id ranges for user namespaces is held by a container")


def release(root: str, cid: str, uid_base: int) -> None:
    """Free the slot of uid_base if container cid holds it."""
    start, _ = pool()
    directory = f"{root}/{DIRECTORY}"
    with directory_locked(directory):
        path = f"{directory}/{(uid_base - start) // SIZE}"
        if holder(path) == cid:
            os.unlink(path)


def holder(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def reclaim(root: str) -> list[int]:
    """Free the slots whose container no longer exists; returns their numbers."""
    directory = f"{root}/{DIRECTORY}"
    if not os.path.isdir(directory):
        return []
    with directory_locked(directory):
        return _reclaim(root, directory)


def _reclaim(root: str, directory: str) -> list[int]:
    freed = []
    for name in os.listdir(directory):
        if not name.isdigit():
            continue
        # Empty: a claim that died before naming its container (none is under way while the lock is held).
        cid = holder(f"{directory}/{name}")
        if cid is not None and not (cid and os.path.isdir(f"{root}/containers/{cid}")):
            os.unlink(f"{directory}/{name}")
            freed.append(int(name))
    return freed
