"""The base of the runtime's plain records (config, state, limits, init plan).

Not dataclasses: `import dataclasses` pulls in `inspect`, `ast` and
`tokenize`, a quarter of the imports of `python -m runtime run`, and every
decorated class compiles its methods again at import. A subclass names its
fields in `__slots__` (in order) and writes its own `__init__`; this gives
it the rest of what the dataclass gave: `to_dict()`, `==` and `repr()`,
and `fields()`, a to_dict() without copies.
"""


def _copy(value):
    # As dataclasses.asdict: nested containers are copies, free to change.
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    return value


class Record:
    __slots__ = ()

    def to_dict(self) -> dict:
        return {name: _copy(getattr(self, name)) for name in self.__slots__}

    def fields(self) -> dict:
        """As to_dict(), but nested containers are the record's own: for
        serializing at once (json.dumps), where copies are only work."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"
