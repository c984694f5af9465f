"""Signalling every process of a cgroup when the kernel has no cgroup.kill."""

import os
import signal

from runtime.errors import NotFound


def signal_frozen(driver, name: str, sig: int) -> None:
    """Freeze, signal each pid, thaw: a frozen cgroup cannot fork a process
    the pid list missed, so no child escapes a SIGKILL. An empty cgroup (an
    exited container's, as a rule) has nothing to signal and nothing that
    could fork: no freeze and thaw."""
    if not driver.procs(name):
        return
    was_frozen = driver.frozen(name)
    driver.freeze(name)
    try:
        for pid in driver.procs(name):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    finally:
        # A killed cgroup must thaw for its tasks to die; otherwise a paused
        # container stays paused.
        if sig == signal.SIGKILL or not was_frozen:
            try:
                driver.thaw(name)
            except NotFound:
                # Killed tasks die as they thaw, and the container's shim
                # removes the emptied cgroup: gone is thawed enough.
                if sig != signal.SIGKILL:
                    raise
