"""Bounds on what one image import may unpack, checked while streaming."""

from dataclasses import dataclass

from runtime.errors import InvalidArgument

GiB = 1 << 30
PATH_MAX = 4095


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int = 8 * GiB
    max_entries: int = 2_000_000
    max_path_bytes: int = PATH_MAX
    max_ratio: float = 200.0
    # Tiny archives (an empty tar is 10 KiB of zeros) compress far beyond any
    # sane ratio, so the ratio only counts once this much has been unpacked.
    ratio_floor_bytes: int = 32 << 20

    def __post_init__(self):
        for field in ("max_bytes", "max_entries", "max_path_bytes", "max_ratio", "ratio_floor_bytes"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise InvalidArgument(f"import limit {field} must be a positive number, not {value!r}")
        if self.max_path_bytes > PATH_MAX:
            raise InvalidArgument(f"import limit max_path_bytes cannot exceed the kernel's {PATH_MAX}")
