"""Terminal input as activity for a class's idle limit. The node agent tells
note_input of each input it writes to a shell; at most once per
THROTTLE_SECONDS per session the time goes to a Redis key of that session
(with a TTL past the longest idle limit), and the idle check reads the
keys of a class's sessions in one MGET (last_inputs)."""

import asyncio
import logging
import time
from datetime import datetime, timezone

import redis

from dashboard.classes.redis_client import client
from dashboard.monitoring.history import client as async_client

log = logging.getLogger(__name__)
# Input is recorded this late at most: an idle limit is whole minutes.
THROTTLE_SECONDS = 10
# Longer than the longest idle limit the settings allow (a day).
KEY_TTL = 2 * 86400

_noted: dict[str, float] = {}
_writes: set[asyncio.Task] = set()


def input_key(session_key: str) -> str:
    """The key holding the time of shell `session_key`'s last recorded input."""
    return f"terrarium:classes:input:{session_key}"


def note_input(session_key: str) -> None:
    """On the agent's event loop, for each input written to shell `session_key`."""
    now = time.time()
    if now - _noted.get(session_key, 0.0) < THROTTLE_SECONDS:
        return
    for stale in [k for k, at in _noted.items() if now - at >= THROTTLE_SECONDS]:
        del _noted[stale]
    _noted[session_key] = now
    task = asyncio.get_running_loop().create_task(_record(session_key, now))
    _writes.add(task)
    task.add_done_callback(_writes.discard)


async def _record(session_key: str, at: float) -> None:
    try:
        await async_client().set(input_key(session_key), repr(at), ex=KEY_TTL)
    except redis.RedisError:
        # Input goes on; at worst the instance looks idle a little early.
        log.warning("could not record the input of shell %s", session_key, exc_info=True)


def last_inputs(session_keys: list[str]) -> dict[str, datetime]:
    """The last recorded input of each of these shells that had any."""
    if not session_keys:
        return {}
    values = client().mget([input_key(k) for k in session_keys])
    return {k: datetime.fromtimestamp(float(v), tz=timezone.utc) for k, v in zip(session_keys, values) if v}
