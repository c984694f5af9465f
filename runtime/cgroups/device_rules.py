"""The devices a container may use: the ones its /dev holds, and mknod of any.

Docker's default list minus what Terrarium's /dev does not offer.
"""

from runtime.records import Record


class DeviceRule(Record):
    __slots__ = ("kind", "major", "minor", "access")

    def __init__(self, kind: str, major: int | None, minor: int | None, access: str):
        self.kind = kind  # "c" or "b"
        self.major = major  # None: any
        self.minor = minor  # None: any
        self.access = access  # subset of "rwm"

    def v1_line(self) -> str:
        major = "*" if self.major is None else self.major
        minor = "*" if self.minor is None else self.minor
        return f"{self.kind} {major}:{minor} {self.access}"


ALLOWED = (
    DeviceRule("c", 1, 3, "rwm"),  # null
    DeviceRule("c", 1, 5, "rwm"),  # zero
    DeviceRule("c", 1, 7, "rwm"),  # full
    DeviceRule("c", 1, 8, "rwm"),  # random
    DeviceRule("c", 1, 9, "rwm"),  # urandom
    DeviceRule("c", 5, 0, "rwm"),  # tty
    DeviceRule("c", 5, 2, "rwm"),  # ptmx
    DeviceRule("c", 136, None, "rwm"),  # pts/N
    DeviceRule("c", None, None, "m"),
    DeviceRule("b", None, None, "m"),
)
