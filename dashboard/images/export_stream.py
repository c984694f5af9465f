"""An image export carried from its node's root worker to the web process
through Redis, a bounded list under a key only this download knows.

The worker (`send`) pushes the archive in pieces of about CHUNK bytes and
waits while WINDOW pieces are unread, so at most WINDOW * CHUNK bytes of a
download sit in Redis; it gives up when nobody reads for STALL_SECONDS or
the reader has left (`<key>:gone`). The web side (`receive`) pops the
pieces in order. Each piece is tagged: b"d" data, b"e" the end, b"x" an
error message (before the first byte: the download is refused with it;
later: the archive is cut short, which the client sees as a truncated tar).
"""

import re
import secrets
import time

import redis
import redis.asyncio as aioredis
from django.conf import settings

CHUNK = 1 << 20
WINDOW = 8
STALL_SECONDS = 60
# Keys expire by themselves if both sides vanish.
KEY_SECONDS = 2 * STALL_SECONDS
DATA, END, ERROR = b"d", b"e", b"x"
KEY = re.compile(r"terrarium:image-export:[0-9a-f]{32}")


class ExportFailed(Exception):
    pass


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def new_key() -> str:
    return f"terrarium:image-export:{secrets.token_hex(16)}"


def send(key: str, chunks) -> None:
    """Push the archive's chunks under key, with backpressure; an error in
    chunks is pushed as an error piece, not raised."""
    client = _client()
    try:
        buffer = bytearray()
        for chunk in chunks:
            buffer += chunk
            if len(buffer) >= CHUNK:
                _push(client, key, DATA + bytes(buffer))
                buffer.clear()
        if buffer:
            _push(client, key, DATA + bytes(buffer))
        _push(client, key, END)
    except ExportFailed:
        return
    except Exception as exc:  # noqa: BLE001 - whatever failed, the reader must hear of it, not wait
        _push(client, key, ERROR + str(exc)[:500].encode(errors="replace"), wait=False)
    finally:
        client.close()


def refuse(key: str, why: str) -> None:
    client = _client()
    try:
        _push(client, key, ERROR + why[:500].encode(errors="replace"), wait=False)
    finally:
        client.close()


def _push(client: redis.Redis, key: str, piece: bytes, wait: bool = True) -> None:
    deadline = time.monotonic() + STALL_SECONDS
    while wait and client.llen(key) >= WINDOW:
        if client.exists(f"{key}:gone") or time.monotonic() > deadline:
            raise ExportFailed("the download was abandoned")
        time.sleep(0.02)
    pipe = client.pipeline()
    pipe.rpush(key, piece)
    pipe.expire(key, KEY_SECONDS)
    pipe.execute()


def receive(key: str):
    """(first piece's data, an async iterator of the rest): the first is
    read at once, so that a refusal comes before the response starts; the
    rest is an async iterator, which Daphne streams (a sync one it would
    read whole first). Raises ExportFailed with the node's message."""
    client = _client()
    try:
        item = client.blpop([key], timeout=STALL_SECONDS)
    finally:
        client.close()
    first = _data(item)
    if first is None:
        raise ExportFailed("the node sent nothing")
    return first, _rest(key)


def _data(item) -> bytes | None:
    """A popped piece's data; None at the end."""
    if item is None:
        raise ExportFailed("the node did not send the image in time")
    piece = item[1]
    if piece[:1] == ERROR:
        raise ExportFailed(piece[1:].decode(errors="replace"))
    return None if piece[:1] == END else piece[1:]


async def _rest(key: str):
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        while (data := _data(await client.blpop([key], timeout=STALL_SECONDS))) is not None:
            yield data
    finally:
        # Tells a worker still sending that nobody reads any more (after the end: harmless).
        await client.set(f"{key}:gone", b"1", ex=KEY_SECONDS)
        await client.delete(key)
        await client.aclose()
