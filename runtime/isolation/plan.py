"""What a container's pid 1 is told to do (runtime.isolation.container_init), in its own module:
the launcher builds it without importing what pid 1 runs."""

from runtime.records import Record


class InitPlan(Record):
    """Everything pid 1 needs, computed by the launcher before it forks;
    lower lists the overlay's read-only layers, top first."""

    __slots__ = ("lower", "upper", "work", "hostname", "argv", "env", "workdir", "uid", "gid", "tty",
                 "cgroup_version", "cgroup_files", "nameservers", "volatile", "disk", "uid_base", "network")

    def __init__(self, lower: list[str], upper: str, work: str, hostname: str, argv: list[str],
                 env: dict[str, str], workdir: str, uid: int | str | None, gid: int | str | None, tty: bool,
                 cgroup_version: str, cgroup_files: list[str] | None = None, nameservers: list[str] | None = None,
                 volatile: bool = False, disk: str | None = None, uid_base: int | None = None,
                 network: dict | None = None):
        self.lower = lower
        self.upper = upper
        self.work = work
        self.hostname = hostname
        self.argv = argv
        self.env = env
        self.workdir = workdir
        # Names (see config.parse_user) are resolved by pid 1 in the container's root.
        self.uid = uid
        self.gid = gid
        self.tty = tty
        self.cgroup_version = cgroup_version
        self.cgroup_files = [] if cgroup_files is None else cgroup_files
        self.nameservers = [] if nameservers is None else nameservers
        self.volatile = volatile
        # The disk image holding upper and work (runtime.isolation.layerdisk), for a container with a disk limit.
        self.disk = disk
        # The host id of the container's root (runtime.id_ranges); None: the host's own ids (--userns=host).
        self.uid_base = uid_base
        # The container's eth0, as runtime.network.attach.plan gives it; None: `lo` only.
        self.network = network
