"""Descriptor hygiene for forked processes."""

import os


def close_all_except(*keep: int) -> None:
    """Close every descriptor from 3 up but those in keep: nothing of the
    launcher (a worker's sockets, a CLI's pipes) must reach a container or
    stay held by a long-lived shim."""
    low = 3
    for fd in sorted(k for k in set(keep) if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)
