"""The node agent's sampler: every tick (settings.SAMPLE_HZ) one pass over
the cgroups of every running container of this node through
Runtime.stats_many (in a thread, so the agent's loop keeps serving
shells), plus the host's figures; samples go to Redis history and to the
Channels groups of the stats layer (Redis pub/sub, groups.LAYER) in one
command; limit hits become events.

Events are pushed by signals.event_push. Redis or the database failing
must not stop the sampler: each part of a tick fails alone, is logged once
per outage, and the next tick tries again.
"""

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from dashboard.containers.node import containers_reconcile_node
from dashboard.monitoring import history, host
from dashboard.monitoring.detection import LimitWatch
from dashboard.monitoring.groups import LAYER, container_group, node_group
from dashboard.monitoring.samples import MinuteBucket, sample_from
from dashboard.monitoring.selectors import containers_by_pk
from dashboard.monitoring.services import container_limit_event_record
from runtime import NotFound, Runtime

log = logging.getLogger(__name__)

_RUNTIME_NAME = re.compile(r"^c(\d+)$")
# A runtime container the database does not know (yet) is looked up again this often.
UNKNOWN_RETRY_SECONDS = 5.0
HOST_TRIM_EVERY = 60
OVERVIEW_FIELDS = (
    "t", "cpu_percent", "cpus", "memory_bytes", "memory_working_set_bytes",
    "memory_limit_bytes", "pids", "pids_limit", "net_rx_bps", "net_tx_bps",
)


@dataclass
class Watched:
    """What the sampler keeps between ticks about one running container."""

    pk: int
    name: str
    owner_id: int
    cpus: float | None
    channel: str
    raw: dict | None = None
    bucket: MinuteBucket | None = None
    watch: LimitWatch = field(default_factory=LimitWatch)


class Sampler:
    def __init__(self, node_name: str, runtime: Runtime | None = None):
        self.node = node_name
        self.runtime = runtime or Runtime(root=settings.TERRARIUM_ROOT)
        self.layer = get_channel_layer(LAYER)
        self.watched: dict[str, Watched] = {}
        self.unknown: dict[str, float] = {}
        self.ticks = 0
        self.failing: set[str] = set()

    def _read(self):
        """Blocking part of a tick, run in a thread: one stats pass over the
        live containers, the records of those seen for the first time, the
        host's figures."""
        stats = self.runtime.stats_many()
        now = time.monotonic()
        fresh = {}
        for rid in stats:
            if rid not in self.watched and self.unknown.get(rid, 0) <= now:
                try:
                    fresh[rid] = self.runtime.get(rid)
                except NotFound:
                    continue
        return stats, fresh, host.figures(settings.TERRARIUM_ROOT, len(stats))

    async def tick(self) -> None:
        stats, fresh, host_figures = await asyncio.to_thread(self._read)
        if fresh:
            await self._learn(fresh)
        samples, aggregates, events = self._samples(stats)
        ended = [self.watched.pop(rid) for rid in list(self.watched) if rid not in stats]
        aggregates.extend((w.pk, w.bucket.row()) for w in ended if w.bucket and w.bucket.count)
        for rid in [r for r in self.unknown if r not in stats]:
            del self.unknown[rid]
        self.ticks += 1
        await self._guard("write", self._write(samples, aggregates, host_figures))
        await self._guard("events", self._events(events))
        if ended:
            # Exits (with their OOM kills) are the reconciliation's to record;
            # running it now instead of at the next heartbeat marks them within a tick.
            await self._guard("exits", database_sync_to_async(containers_reconcile_node)(node_name=self.node))

    async def _learn(self, fresh) -> None:
        """Map runtime containers seen for the first time to dashboard containers by their runtime name."""
        wanted = {}
        for rid, state in fresh.items():
            match = _RUNTIME_NAME.match(state.name)
            if match:
                wanted[int(match.group(1))] = rid
        found = await database_sync_to_async(containers_by_pk)(pks=list(wanted), node_name=self.node) if wanted else {}
        for pk, rid in wanted.items():
            container = found.get(pk)
            if container is not None and container.runtime_id in ("", rid):
                cpus = (fresh[rid].limits or {}).get("cpus")
                self.watched[rid] = Watched(pk=pk, name=container.name, owner_id=container.owner_id, cpus=cpus,
                                            channel=self._channel(container_group(pk)))
        retry = time.monotonic() + UNKNOWN_RETRY_SECONDS
        for rid in fresh:
            if rid in self.watched:
                self.unknown.pop(rid, None)
            else:
                self.unknown[rid] = retry

    def _samples(self, stats):
        samples, aggregates, events = {}, [], []
        for rid, raw in stats.items():
            w = self.watched.get(rid)
            # A cgroup gone between listing and reading comes back as zeros: not a sample.
            if w is None or not raw.get("cpu_usage_ns"):
                continue
            prev, w.raw = w.raw, raw
            if prev is None:
                continue
            sample = sample_from(prev, raw, w.cpus)
            samples[w.pk] = (w, sample)
            minute = int(sample["t"]) // 60 * 60
            if w.bucket is None or w.bucket.start != minute:
                if w.bucket is not None and w.bucket.count:
                    aggregates.append((w.pk, w.bucket.row()))
                w.bucket = MinuteBucket(start=minute)
            w.bucket.add(sample)
            events.extend((w.pk, kind, data) for kind, data in w.watch.check(sample))
        return samples, aggregates, events

    def _channel(self, group: str) -> str:
        # The pub/sub channel the stats layer subscribes a group's members to.
        return self.layer._get_group_channel_name(group)

    async def _write(self, samples, aggregates, host_figures) -> None:
        """The tick to the history, and its pushes, in one pipeline."""
        serialize = self.layer.serialize
        publish = [
            (w.channel, serialize({"type": "stats.sample", "sample": sample})) for w, sample in samples.values()
        ]
        overview = [
            {"id": pk, "name": w.name, "owner_id": w.owner_id, **{f: sample[f] for f in OVERVIEW_FIELDS}}
            for pk, (w, sample) in samples.items()
        ]
        node_message = {"type": "stats.node", "node": self.node, "host": host_figures, "containers": overview}
        publish.append((self._channel(node_group(self.node)), serialize(node_message)))
        pipe = history.client().pipeline(transaction=False)
        history.samples_add(pipe, [(pk, sample) for pk, (_, sample) in samples.items()], publish)
        now = time.time()
        for pk, row in aggregates:
            history.aggregate_add(pipe, pk, row, now)
        history.host_add(pipe, self.node, host_figures, trim=self.ticks % HOST_TRIM_EVERY == 1)
        await pipe.execute()

    async def _events(self, events) -> None:
        for pk, kind, data in events:
            await database_sync_to_async(container_limit_event_record)(container_id=pk, kind=kind, data=data)

    async def _guard(self, part: str, coro):
        """The coroutine's result, or None when it failed."""
        try:
            result = await coro
        except Exception:
            if part not in self.failing:
                log.exception("sampler on %s: %s failed; retrying every tick", self.node, part)
                self.failing.add(part)
            return None
        if part in self.failing:
            log.info("sampler on %s: %s works again", self.node, part)
            self.failing.discard(part)
        return result

    async def run(self) -> None:
        period = 1.0 / settings.SAMPLE_HZ
        next_tick = time.monotonic()
        while True:
            await self._guard("tick", self.tick())
            next_tick += period
            delay = next_tick - time.monotonic()
            if delay < 0:
                # Fell behind (a slow disk, a stalled Redis): skip the missed ticks, don't burst.
                next_tick = time.monotonic()
                delay = 0
            await asyncio.sleep(delay)


async def run(node_name: str) -> None:
    await Sampler(node_name).run()
