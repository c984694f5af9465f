"""What the web side (consumers) and the node side (agent) agree on: the
agent's channel name and the flow-control limits. The agent listens on one
fixed channel per node; replies go to the consumer's own channel."""

import re

REPLAY_BYTES = 256 * 1024
READ_BYTES = 64 * 1024
# Output in flight to one viewer (sent but not yet acknowledged by the
# browser). The frame cap keeps tiny interactive chunks from overrunning the
# channel layer's per-channel capacity before the byte window is reached.
WINDOW_BYTES = 256 * 1024
WINDOW_FRAMES = 128
INPUT_PENDING_BYTES = 1024 * 1024
LOG_TAIL_BYTES = 64 * 1024


def node_channel(node_name: str) -> str:
    # Channel names allow only [A-Za-z0-9-_.] and at most 100 characters.
    return "shell.node." + re.sub(r"[^A-Za-z0-9_.-]", "-", node_name)[:80]
