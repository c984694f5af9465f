"""Join codes: 8 characters from an alphabet without look-alikes (no 0/O,
1/I/L), typed by students from a projector, compared case-insensitively."""

import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 8


def new_join_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize_join_code(text: str) -> str:
    """What a student typed, as stored: upper case, spaces and dashes dropped."""
    return "".join(ch for ch in text.upper() if ch not in " -\t")


def new_password() -> str:
    """A one-time password for a roster account: 12 characters of the same alphabet (about 59 bits)."""
    return "".join(secrets.choice(ALPHABET.lower() + ALPHABET) for _ in range(12))
