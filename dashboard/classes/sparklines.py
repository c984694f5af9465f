"""The grid's memory and cpu sparklines: per container, the last
SPARK_SECONDS of the monitoring's 1-second samples as the points of an SVG
polyline WIDTH x HEIGHT, a point per BUCKET_SECONDS (its highest value),
and the last value as a label. Redis folds the samples into buckets itself,
in one call for the whole class: shipping and decoding every sample cost
the page more than the rest of the grid."""

import json

from dashboard.classes.redis_client import client
from dashboard.monitoring.history import sample_key
from dashboard.monitoring.samples import FIELDS

SPARK_SECONDS = 120
BUCKET_SECONDS = 5
WIDTH, HEIGHT = 48, 16
BUCKETS = SPARK_SECONDS // BUCKET_SECONDS

# KEYS: the containers' 1-second sample sets; ARGV: from (epoch seconds), bucket
# seconds, buckets, then the positions of t, cpu, memory and memory limit in a sample.
_BUCKETS = """
local from, step, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local T, CPU, MEM, LIMIT = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local out = {}
for k = 1, #KEYS do
  local cpu, mem, last = {}, {}, nil
  for i = 1, n do cpu[i] = -1; mem[i] = -1 end
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[k], from, '+inf')) do
    local row = cjson.decode(member)
    local i = math.floor((row[T] - from) / step) + 1
    if i >= 1 and i <= n then
      if type(row[CPU]) == 'number' and row[CPU] > cpu[i] then cpu[i] = row[CPU] end
      if type(row[MEM]) == 'number' and row[MEM] > mem[i] then mem[i] = row[MEM] end
    end
    last = row
  end
  if last then
    local limit = last[LIMIT]
    out[k] = cjson.encode({cpu, mem, last[CPU], last[MEM], type(limit) == 'number' and limit or 0})
  else
    out[k] = ''
  end
end
return out
"""


def _points(values: list[float | None], top: float) -> str:
    step = WIDTH / (len(values) - 1)
    return " ".join(f"{i * step:.1f},{HEIGHT - (v or 0) / top * HEIGHT:.1f}" for i, v in enumerate(values))


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def sparklines(container_ids: list[int], now: float) -> dict[int, dict]:
    """container id -> {"cpu", "memory": polyline points; "cpu_label", "memory_label"} for those with samples."""
    if not container_ids:
        return {}
    found = client().eval(_BUCKETS, len(container_ids), *(sample_key(pk, "s") for pk in container_ids),
                         now - SPARK_SECONDS, BUCKET_SECONDS, BUCKETS,
                         *(FIELDS.index(f) + 1 for f in ("t", "cpu_percent", "memory_bytes", "memory_limit_bytes")))
    lines = {}
    for pk, folded in zip(container_ids, found):
        if not folded:
            continue
        cpu, memory, cpu_now, memory_now, limit = json.loads(folded)
        cpu = [None if v < 0 else v for v in cpu]
        memory = [None if v < 0 else v for v in memory]
        lines[pk] = {
            "cpu": _points(cpu, max(100.0, *(c or 0 for c in cpu))),
            "memory": _points(memory, max(limit or 1, *(m or 0 for m in memory))),
            "cpu_label": f"{cpu_now if isinstance(cpu_now, (int, float)) else 0:.0f} %",
            "memory_label": _size(memory_now if isinstance(memory_now, (int, float)) else 0),
        }
    return lines
