"""One synchronous Redis client per process for the classes' reads (input
times, sparklines, cpu activity): its pool is thread-safe, and these reads
run in request threads and the worker's heartbeat, outside any event loop."""

import redis
from django.conf import settings

_client = None


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
    return _client
