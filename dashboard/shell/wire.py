"""What the web side (consumers) and the node side (agent) agree on: the
agent's channel name and the flow-control limits. The agent listens on one
fixed channel per node; replies go to the consumer's own channel."""

import re
from collections import deque

REPLAY_BYTES = 256 * 1024
READ_BYTES = 64 * 1024
# Output in flight to one viewer (sent but not yet acknowledged by the
# browser). The frame cap matters because every socket of one web process
# shares one channel-layer inbox (capacity 1000 messages): tiny interactive
# chunks must not fill it before the byte window is reached.
WINDOW_BYTES = 256 * 1024
WINDOW_FRAMES = 24
INPUT_PENDING_BYTES = 1024 * 1024
LOG_TAIL_BYTES = 64 * 1024
# How long the web side waits for the node agent before telling the user.
AGENT_REPLY_SECONDS = 15


def node_channel(node_name: str) -> str:
    # Channel names allow only [A-Za-z0-9-_.] and at most 100 characters.
    return "shell.node." + re.sub(r"[^A-Za-z0-9_.-]", "-", node_name)[:80]


class AckLedger:
    """The web side's half of flow control: the browser acknowledges bytes
    it has shown, the agent wants the offset of its stream they reach.
    Channel-layer messages can be lost when a consumer in the same process
    is cancelled mid-receive; offsets make the next ack cover such a gap."""

    def __init__(self):
        self._frames = deque()
        self._shown = 0
        self._acked = 0

    def forwarded(self, size: int, end: int) -> None:
        self._shown += size
        self._frames.append((self._shown, end))

    def acked(self, nbytes: int) -> int | None:
        self._acked += nbytes
        upto = None
        while self._frames and self._frames[0][0] <= self._acked:
            upto = self._frames.popleft()[1]
        return upto
