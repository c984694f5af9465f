"""Samples, minute aggregates and their Redis history (real Redis)."""

import random

import pytest
import redis
from django.conf import settings

from dashboard.monitoring import history
from dashboard.monitoring.samples import MinuteBucket, aggregate_sample, merge_rows, pack, sample_from, unpack

T0 = 1_700_000_400.0  # a ten-minute boundary


def raw(t, **values):
    base = {
        "t": t, "cpu_usage_ns": 0, "cpu_throttled_ns": 0, "memory_bytes": 0, "memory_working_set_bytes": 0,
        "memory_cache_bytes": 0, "memory_limit_bytes": 64 << 20, "pids": 1, "pids_limit": 32, "oom_kills": 0,
        "net_rx_bytes": 0, "net_tx_bytes": 0, "blk_read_bytes": 0, "blk_write_bytes": 0,
    }
    return {**base, **values}


def sample_at(t, **values):
    return {"t": t, "cpu_percent": 0.0, "memory_bytes": 0, **values}


@pytest.fixture
def container_id():
    """A container id no other test uses; its history keys are removed afterwards."""
    cid = random.randrange(10**9, 10**10)
    yield cid
    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete(*(f"terrarium:stats:c:{cid}:{k}" for k in "sm"))
    r.close()


def test_counters_become_per_second_rates():
    prev = raw(T0, cpu_usage_ns=0, net_rx_bytes=1000, blk_write_bytes=0, cpu_throttled_ns=0)
    cur = raw(T0 + 2, cpu_usage_ns=1_000_000_000, net_rx_bytes=5000, blk_write_bytes=8192, cpu_throttled_ns=200_000_000)
    sample = sample_from(prev, cur, cpus=0.5)
    assert sample["cpu_percent"] == 50.0
    assert sample["cpu_limit_percent"] == 100.0
    assert sample["net_rx_bps"] == 2000
    assert sample["blk_write_bps"] == 4096
    assert sample["cpu_throttled_ms"] == 100.0
    assert sample["memory_limit_bytes"] == 64 << 20


def test_a_counter_going_backwards_gives_no_negative_rate():
    sample = sample_from(raw(T0, net_tx_bytes=10_000), raw(T0 + 1, net_tx_bytes=0), cpus=None)
    assert sample["net_tx_bps"] == 0
    assert sample["cpu_limit_percent"] is None


def test_pack_and_unpack_keep_every_field():
    sample = sample_from(raw(T0), raw(T0 + 1, memory_bytes=5), cpus=1.0)
    assert unpack(pack(sample)) == sample


def test_minute_bucket_keeps_min_avg_max():
    bucket = MinuteBucket(start=int(T0))
    for value in (10, 30, 20):
        bucket.add(sample_at(T0, memory_bytes=value, cpu_percent=value / 10))
    start, lows, avgs, highs = bucket.row()
    agg = aggregate_sample(bucket.row())
    assert start == T0
    assert (agg["min"]["memory_bytes"], agg["memory_bytes"], agg["max"]["memory_bytes"]) == (10, 20, 30)
    assert agg["cpu_percent"] == 2.0


def test_missing_values_do_not_count_in_the_average():
    bucket = MinuteBucket(start=int(T0))
    bucket.add(sample_at(T0, cpu_limit_percent=None))
    bucket.add(sample_at(T0 + 1, cpu_limit_percent=40.0))
    assert aggregate_sample(bucket.row())["cpu_limit_percent"] == 40.0


def test_merging_minutes_into_ten_minute_rows_keeps_the_extremes():
    rows = []
    for minute in range(20):
        bucket = MinuteBucket(start=int(T0) + 60 * minute)
        bucket.add(sample_at(T0 + 60 * minute, memory_bytes=minute))
        rows.append(bucket.row())
    merged = [aggregate_sample(r) for r in merge_rows(rows, 600)]
    assert [m["t"] for m in merged] == [T0, T0 + 600]
    assert [(m["min"]["memory_bytes"], m["memory_bytes"], m["max"]["memory_bytes"]) for m in merged] == [
        (0, 4.5, 9),
        (10, 14.5, 19),
    ]


async def test_short_ranges_read_the_second_samples(container_id):
    pipe = history.client().pipeline(transaction=False)
    for i in range(30):
        history.samples_add(pipe, [(container_id, sample_at(T0 + i, memory_bytes=i))], [])
    await pipe.execute()
    samples = await history.container_history(container_id, "15m", now=T0 + 29.5)
    assert [s["memory_bytes"] for s in samples] == list(range(30))
    later = await history.container_history(container_id, "15m", now=T0 + 900 + 19.5)
    assert [s["memory_bytes"] for s in later] == list(range(20, 30))


async def test_long_ranges_read_aggregates_then_the_unaggregated_seconds(container_id):
    pipe = history.client().pipeline(transaction=False)
    for minute in range(3):
        bucket = MinuteBucket(start=int(T0) + 60 * minute)
        for s in range(60):
            sample = sample_at(T0 + 60 * minute + s, memory_bytes=minute * 100 + s)
            bucket.add(sample)
            history.samples_add(pipe, [(container_id, sample)], [])
        history.aggregate_add(pipe, container_id, bucket.row(), now=T0 + 180)
    for s in range(5):
        history.samples_add(pipe, [(container_id, sample_at(T0 + 180 + s, memory_bytes=999))], [])
    await pipe.execute()
    samples = await history.container_history(container_id, "24h", now=T0 + 185)
    assert [s["t"] for s in samples] == [T0, T0 + 60, T0 + 120, *(T0 + 180 + s for s in range(5))]
    assert samples[1]["min"]["memory_bytes"] == 100 and samples[1]["max"]["memory_bytes"] == 159
    week = await history.container_history(container_id, "7d", now=T0 + 185)
    assert week[0]["max"]["memory_bytes"] == 259 and week[0]["min"]["memory_bytes"] == 0


async def test_writing_an_aggregate_trims_seconds_older_than_an_hour(container_id):
    pipe = history.client().pipeline(transaction=False)
    history.samples_add(pipe, [(container_id, sample_at(T0, memory_bytes=1))], [])
    history.samples_add(pipe, [(container_id, sample_at(T0 + 3000, memory_bytes=2))], [])
    history.aggregate_add(pipe, container_id, MinuteBucket(start=int(T0)).row(), now=T0 + 3700)
    await pipe.execute()
    left = await history.client().zrangebyscore(f"terrarium:stats:c:{container_id}:s", "-inf", "+inf")
    assert len(left) == 1
