"""Parsers for the cgroupfs files the stats come from, v1 and v2 alike."""

# v1 reports "no limit" as PAGE_COUNTER_MAX pages in bytes (just under 2**63,
# rounded to the page size); anything this large is unlimited.
_V1_UNLIMITED = 1 << 62


def flat_keyed(text: str) -> dict[str, int]:
    """`key value` lines: memory.stat, cpu.stat, memory.events, memory.oom_control."""
    result = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value:
            result[key] = int(value)
    return result


def value_of(text: str, key: str) -> int:
    """One `key value` line's value (0 when absent) without splitting the
    whole file: memory.stat has some 70 lines and the sampler wants two."""
    if text.startswith(key + " "):
        start = len(key) + 1
    else:
        at = text.find(f"\n{key} ")
        if at < 0:
            return 0
        start = at + len(key) + 2
    end = text.find("\n", start)
    return int(text[start:end] if end >= 0 else text[start:])


def limit(text: str) -> int | None:
    """A limit file: "max" (v2) or a huge number (v1) both mean unlimited."""
    value = text.strip()
    if value == "max":
        return None
    number = int(value)
    return None if number >= _V1_UNLIMITED else number


def blkio_bytes(text: str) -> tuple[int, int]:
    """v1 blkio.*io_service_bytes*: `MAJ:MIN Read|Write|... N` lines, summed over devices."""
    read = write = 0
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        if fields[1] == "Read":
            read += int(fields[2])
        elif fields[1] == "Write":
            write += int(fields[2])
    return read, write


def io_stat_bytes(text: str) -> tuple[int, int]:
    """v2 io.stat: `MAJ:MIN rbytes=N wbytes=N ...` lines, summed over devices."""
    read = write = 0
    for line in text.splitlines():
        for field in line.split()[1:]:
            key, _, value = field.partition("=")
            if key == "rbytes":
                read += int(value)
            elif key == "wbytes":
                write += int(value)
    return read, write


def working_set(usage: int, inactive_file: int) -> int:
    """Usage minus inactive page cache, never below zero (cAdvisor's definition)."""
    return max(usage - inactive_file, 0)
