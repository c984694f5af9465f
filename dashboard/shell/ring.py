"""The last bytes a session printed, replayed to a browser that (re)attaches."""


class ReplayBuffer:
    def __init__(self, limit: int):
        self._limit = limit
        self._data = bytearray()

    def append(self, data: bytes) -> None:
        self._data += data
        excess = len(self._data) - self._limit
        if excess > 0:
            # Restart at a line boundary when one is near, so the replay does
            # not begin in the middle of an escape or UTF-8 sequence.
            newline = self._data.find(b"\n", excess, excess + 4096)
            del self._data[: newline + 1 if newline >= 0 else excess]

    def snapshot(self) -> bytes:
        return bytes(self._data)

    def __len__(self) -> int:
        return len(self._data)
