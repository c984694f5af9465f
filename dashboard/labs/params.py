"""Per-student parameters: each value is an HMAC of the lab's secret, the
student's id and the param's name, so it is the same every time (a reset
changes nothing) and differs between students, who cannot derive another's."""

import hashlib
import hmac
import re

PARAM_KINDS = ("int", "hex", "word")
NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
# Checks get the params as environment variables: these must stay the shell's.
RESERVED = {"PATH", "HOME", "SHELL", "TERM", "USER", "PWD", "IFS", "ENV", "HOSTNAME", "LD_PRELOAD", "LD_LIBRARY_PATH"}
WORD = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_HEX_BYTES = 64
MAX_WORDS = 1000


def parse_param(raw: dict) -> dict:
    """A param as the lab file gives it -> its checked form, or ValueError."""
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.match(name) or name in RESERVED:
        raise ValueError(f"a param's name is uppercase letters, digits and _ (not {', '.join(sorted(RESERVED))}), "
                         f"not {name!r}.")
    kind = raw["type"]
    extra = set(raw) - {"name", "type"} - {"int": {"min", "max"}, "hex": {"bytes"}, "word": {"words"}}[kind]
    if extra:
        raise ValueError(f"the param {name} ({kind}) takes no {', '.join(sorted(extra))}.")
    if kind == "int":
        low, high = raw.get("min", 0), raw.get("max")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or low > high:
            raise ValueError(f"the param {name} (int) needs whole numbers min <= max.")
        return {"name": name, "type": kind, "min": low, "max": high}
    if kind == "hex":
        size = raw.get("bytes", 4)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_HEX_BYTES:
            raise ValueError(f"the param {name} (hex) needs bytes between 1 and {MAX_HEX_BYTES}.")
        return {"name": name, "type": kind, "bytes": size}
    words = raw.get("words")
    if not isinstance(words, list) or not 1 <= len(words) <= MAX_WORDS or not all(
        isinstance(w, str) and WORD.match(w) for w in words
    ):
        raise ValueError(f"the param {name} (word) needs a list of 1 to {MAX_WORDS} words "
                         "of letters, digits, '.', '-' and '_'.")
    return {"name": name, "type": kind, "words": words}


def _stream(secret: bytes, student_id: int, name: str, size: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < size:
        message = f"{student_id}\0{name}\0{counter}".encode()
        out += hmac.new(secret, message, hashlib.sha256).digest()
        counter += 1
    return out[:size]


def param_values(*, params: list[dict], secret: bytes, student_id: int) -> dict[str, str]:
    """Each param's value for this student, as text (what {{NAME}} and the environment get)."""
    values = {}
    for param in params:
        name = param["name"]
        if param["type"] == "hex":
            values[name] = _stream(secret, student_id, name, param["bytes"]).hex()
            continue
        number = int.from_bytes(_stream(secret, student_id, name, 8), "big")
        if param["type"] == "int":
            values[name] = str(param["min"] + number % (param["max"] - param["min"] + 1))
        else:
            values[name] = param["words"][number % len(param["words"])]
    return values
