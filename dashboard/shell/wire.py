"""What the web side (consumers) and the node side (agent) agree on: the
channel layer they talk through, the agent's channel name and the
flow-control limits. The agent listens on one fixed channel per node;
replies go to the consumer's own channel."""

import re
from collections import deque

# settings.CHANNEL_LAYERS alias: Redis pub/sub, one hop each way.
LAYER = "shell"
REPLAY_BYTES = 256 * 1024
READ_BYTES = 64 * 1024
# Output sent to one viewer and not yet acknowledged by its browser.
WINDOW_BYTES = 1024 * 1024
# The largest output message; under a flood, reads are coalesced up to it.
FRAME_BYTES = 256 * 1024
INPUT_PENDING_BYTES = 1024 * 1024
LOG_TAIL_BYTES = 64 * 1024
# How long the web side waits for the node agent before telling the user.
AGENT_REPLY_SECONDS = 15
# A screen reset (RIS): what a viewer resynced from the replay buffer gets
# before the replay, so the bytes it missed leave no trace.
RESET = b"\x1bc"


def node_channel(node_name: str) -> str:
    # Channel names allow only [A-Za-z0-9-_.] and at most 100 characters.
    return "shell.node." + re.sub(r"[^A-Za-z0-9_.-]", "-", node_name)[:80]


class AckLedger:
    """The web side's half of flow control: the browser acknowledges bytes
    it has shown, the agent wants the offset of its stream they reach.
    Offsets make a later ack cover a lost one, and a frame that does not
    start where the previous one ended shows that one was lost."""

    def __init__(self):
        self._frames = deque()
        self._shown = 0
        self._acked = 0
        self.upto = 0
        self.received = 0

    def begin(self, offset: int) -> None:
        """The stream reaches this socket from offset on (its first replay)."""
        self.received = offset

    def forwarded(self, size: int, end: int) -> bool:
        """Records a frame; False when frames before it went missing."""
        contiguous = end - size == self.received
        self.received = end
        self._shown += size
        self._frames.append((self._shown, end))
        return contiguous

    def skipped(self, size: int, end: int) -> int | None:
        """A frame the agent counted in the stream that the browser will not
        show (the replay of a repeated attach reply, when an attach retry
        crossed the first reply). It is acknowledged as soon as everything
        before it is: the offset to acknowledge now, if that is already so."""
        self.received = end
        self._frames.append((self._shown, end))
        return self.acked(0)

    def acked(self, nbytes: int) -> int | None:
        self._acked += nbytes
        upto = None
        while self._frames and self._frames[0][0] <= self._acked:
            upto = self._frames.popleft()[1]
        if upto is not None:
            self.upto = upto
        return upto
