"""One browser socket's view of an output stream (a shell or a log)."""

import time

from dashboard.shell.wire import WINDOW_BYTES


class Viewer:
    """Seen through its window: the bytes sent to it that its browser has
    not acknowledged yet. Offsets count this viewer's own stream (replays
    included), so an ack covers every frame before it, lost ones too."""

    def __init__(self, readonly: bool, at: int = 0):
        self.readonly = readonly
        self.sent_total = 0
        self.acked_total = 0
        # The session output offset this viewer has been served up to.
        self.at = at
        # Skipping output until its window has room for a replay.
        self.behind = False
        # Its sent_total when the agent last asked where it stands.
        self.probed = None
        self.progress = time.monotonic()

    @property
    def unacked(self) -> int:
        return self.sent_total - self.acked_total

    @property
    def full(self) -> bool:
        return self.unacked >= WINDOW_BYTES

    @property
    def waiting_since(self) -> float | None:
        """Since when it has owed an ack (None: it owes nothing)."""
        return self.progress if self.unacked else None

    def sent(self, nbytes: int) -> int:
        if not self.unacked:
            self.progress = time.monotonic()
        self.sent_total += nbytes
        return self.sent_total

    def acked(self, upto: int) -> bool:
        """Whether upto acknowledges anything new."""
        upto = min(upto, self.sent_total)
        if upto <= self.acked_total:
            return False
        self.acked_total = upto
        self.progress = time.monotonic()
        return True

    def forgive(self) -> None:
        """Stops waiting for acks of bytes that were lost on the way."""
        self.acked_total = self.sent_total
        self.progress = time.monotonic()
