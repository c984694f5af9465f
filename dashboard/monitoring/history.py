"""Sample history in Redis, shared by every node and web process.

Per container two sorted sets scored by epoch seconds: `...:s` holds the
1-second samples of the last hour, `...:m` the 1-minute min/avg/max
aggregates of the last 7 days. Members are compact JSON arrays (see
samples.pack), unique because they start with their time. The sampler
writes a whole tick in one pipeline; trimming happens once a minute, when
the aggregates are written, because trimming every second costs a command
per container for nothing.
"""

import asyncio
import json
import time
import weakref

import redis.asyncio as redis
from django.conf import settings

from dashboard.monitoring.samples import aggregate_sample, merge_rows, pack, unpack

SECOND_KEEP = 3600
MINUTE_KEEP = 7 * 86400
# A deleted container's history goes once nobody writes it for the longest range.
KEY_TTL = MINUTE_KEEP + 3600
HOST_KEEP = 600

# range name -> (seconds shown, aggregate step or None for 1-second samples)
RANGES = {"15m": (900, None), "1h": (3600, None), "24h": (86400, 60), "7d": (7 * 86400, 600)}
DEFAULT_RANGE = "15m"

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.Redis]" = weakref.WeakKeyDictionary()


def client() -> redis.Redis:
    """One client per event loop: asyncio connections cannot cross loops
    (tests run one loop per test; Daphne and the agent run one each)."""
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        _clients[loop] = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
        )
    return _clients[loop]


def sample_key(container_id: int, kind: str) -> str:
    """The sorted set of a container's samples: kind "s" (1-second) or "m" (1-minute)."""
    return f"terrarium:stats:c:{container_id}:{kind}"


def _host_key(node_name: str) -> str:
    return f"terrarium:stats:n:{node_name}:s"


def _dump(value) -> str:
    return json.dumps(value, separators=(",", ":"))


# One command for a whole tick: parsing a reply per container costs the
# sampler more CPU than everything else it does. The same command publishes
# the tick's messages (a PUBLISH nobody listens to costs next to nothing),
# so a page subscribing meanwhile finds each sample in its history or in a
# push, and the push leaves as soon as the pass is read.
_ADD_SAMPLES = """
local n = #KEYS
for i = 1, n do
  redis.call('ZADD', KEYS[i], ARGV[2 * i - 1], ARGV[2 * i])
end
for i = 2 * n + 1, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
"""


def samples_add(pipe, samples: list[tuple[int, dict]], publish: list[tuple[str, bytes]]) -> None:
    """Queue a tick's samples and the (pub/sub channel, message) pairs to publish with them."""
    keys = [sample_key(pk, "s") for pk, _ in samples]
    args = [a for _, sample in samples for a in (sample["t"], _dump(pack(sample)))]
    pipe.eval(_ADD_SAMPLES, len(keys), *keys, *args, *(a for pair in publish for a in pair))


def aggregate_add(pipe, container_id: int, row: list, now: float) -> None:
    seconds, minutes = sample_key(container_id, "s"), sample_key(container_id, "m")
    pipe.zadd(minutes, {_dump(row): row[0]})
    pipe.zremrangebyscore(seconds, "-inf", f"({now - SECOND_KEEP}")
    pipe.zremrangebyscore(minutes, "-inf", f"({now - MINUTE_KEEP}")
    pipe.expire(seconds, KEY_TTL)
    pipe.expire(minutes, KEY_TTL)


def host_add(pipe, node_name: str, host: dict, trim: bool) -> None:
    key = _host_key(node_name)
    pipe.zadd(key, {_dump(host): host["t"]})
    if trim:
        pipe.zremrangebyscore(key, "-inf", f"({host['t'] - HOST_KEEP}")
        pipe.expire(key, KEY_TTL)


async def container_history(container_id: int, range_name: str, now: float | None = None) -> list[dict]:
    """The samples to draw for a range, oldest first: 1-second samples for
    the short ranges; aggregates for the long ones, followed by the
    1-second samples of the minute not aggregated yet."""
    now = time.time() if now is None else now
    seconds, step = RANGES[range_name]
    since = now - seconds
    if step is None:
        rows = await client().zrangebyscore(sample_key(container_id, "s"), since, "+inf")
        return [unpack(json.loads(r)) for r in rows]
    pipe = client().pipeline(transaction=False)
    pipe.zrangebyscore(sample_key(container_id, "m"), since, "+inf")
    pipe.zrevrangebyscore(sample_key(container_id, "s"), "+inf", since, start=0, num=120)
    aggregates, recent = await pipe.execute()
    rows = [json.loads(r) for r in aggregates]
    if step > 60:
        rows = merge_rows(rows, step)
    samples = [aggregate_sample(r) for r in rows]
    covered = rows[-1][0] + 60 if rows else since
    tail = [unpack(json.loads(r)) for r in reversed(recent)]
    return samples + [s for s in tail if s["t"] >= covered]


async def recent_samples(container_ids: list[int], seconds: float, now: float | None = None) -> dict[int, list[dict]]:
    """The last `seconds` of 1-second samples of several containers, in one round trip."""
    now = time.time() if now is None else now
    if not container_ids:
        return {}
    pipe = client().pipeline(transaction=False)
    for cid in container_ids:
        pipe.zrangebyscore(sample_key(cid, "s"), now - seconds, "+inf")
    results = await pipe.execute()
    return {cid: [unpack(json.loads(r)) for r in rows] for cid, rows in zip(container_ids, results)}


async def host_history(node_name: str, seconds: float, now: float | None = None) -> list[dict]:
    now = time.time() if now is None else now
    rows = await client().zrangebyscore(_host_key(node_name), now - seconds, "+inf")
    return [json.loads(r) for r in rows]
