"""Bounds on what one image import may unpack, checked while streaming."""

from runtime.errors import InvalidArgument
from runtime.records import Record

GiB = 1 << 30
PATH_MAX = 4095


class ImportLimits(Record):
    """Immutable: the checks below run once, when it is built.

    Tiny archives (an empty tar is 10 KiB of zeros) compress far beyond any
    sane ratio, so max_ratio only counts once ratio_floor_bytes have been
    unpacked."""

    __slots__ = ("max_bytes", "max_entries", "max_path_bytes", "max_ratio", "ratio_floor_bytes")

    def __init__(self, max_bytes: int = 8 * GiB, max_entries: int = 2_000_000, max_path_bytes: int = PATH_MAX,
                 max_ratio: float = 200.0, ratio_floor_bytes: int = 32 << 20):
        for name, value in zip(self.__slots__, (max_bytes, max_entries, max_path_bytes, max_ratio, ratio_floor_bytes)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise InvalidArgument(f"import limit {name} must be a positive number, not {value!r}")
            object.__setattr__(self, name, value)
        if max_path_bytes > PATH_MAX:
            raise InvalidArgument(f"import limit max_path_bytes cannot exceed the kernel's {PATH_MAX}")

    def __setattr__(self, name, value):
        raise AttributeError(f"ImportLimits are immutable: build new ones instead of setting {name}")

    def __hash__(self):
        return hash(tuple(getattr(self, name) for name in self.__slots__))
