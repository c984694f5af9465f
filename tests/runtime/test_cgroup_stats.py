"""Stats: parsing of the cgroupfs formats, and real figures from a working cgroup."""

import os

import pytest


from runtime.cgroups import Limits, counters, files

MiB = 1024 * 1024

V1_MEMORY_STAT = """cache 16027648
rss 8134656
inactive_file 1060864
hierarchical_memory_limit 9223372036854771712
total_cache 483160064
total_inactive_file 376139776
"""

V2_CPU_STAT = """usage_usec 1500
user_usec 1000
system_usec 500
nr_periods 10
nr_throttled 3
throttled_usec 4200
"""

V1_BLKIO = """8:0 Read 4096
8:0 Write 8192
8:0 Sync 12288
8:0 Async 0
8:0 Discard 0
8:0 Total 12288
8:16 Read 100
8:16 Write 0
8:16 Total 100
Total 12388
"""

V2_IO_STAT = """254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0
7:0 rbytes=100 wbytes=0 rios=1 wios=0 dbytes=0 dios=0
"""


@pytest.fixture
def write_file(tmp_path):
    def write(text):
        path = tmp_path / "cgroup-file"
        path.write_text(text)
        return files.read(str(path))

    return write


def test_flat_keyed_files_parse_to_integers(write_file):
    parsed = counters.flat_keyed(write_file(V1_MEMORY_STAT))
    assert parsed["total_inactive_file"] == 376139776
    assert parsed["hierarchical_memory_limit"] == 9223372036854771712
    assert counters.flat_keyed(write_file(V2_CPU_STAT)) == {
        "usage_usec": 1500, "user_usec": 1000, "system_usec": 500,
        "nr_periods": 10, "nr_throttled": 3, "throttled_usec": 4200,
    }
    assert counters.flat_keyed(write_file("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"))["oom_kill"] == 2
    assert counters.flat_keyed(write_file("low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n"))["oom_kill"] == 1


def test_single_values_are_found_without_their_prefixed_neighbours(write_file):
    text = write_file(V1_MEMORY_STAT)
    assert counters.value_of(text, "total_inactive_file") == 376139776
    assert counters.value_of(text, "inactive_file") == 1060864
    assert counters.value_of(text, "cache") == 16027648
    assert counters.value_of(text, "total_cache") == 483160064
    assert counters.value_of(text, "swap") == 0
    assert counters.value_of("file 7", "file") == 7


@pytest.mark.parametrize(
    "text,value",
    [("max\n", None), ("9223372036854771712\n", None), ("33554432\n", 33554432), ("10\n", 10)],
)
def test_limit_files_read_unlimited_as_none(write_file, text, value):
    assert counters.limit(write_file(text)) == value


def test_v1_blkio_sums_reads_and_writes_over_devices(write_file):
    assert counters.blkio_bytes(write_file(V1_BLKIO)) == (4196, 8192)
    assert counters.blkio_bytes(write_file("Total 0\n")) == (0, 0)


def test_v2_io_stat_sums_reads_and_writes_over_devices(write_file):
    assert counters.io_stat_bytes(write_file(V2_IO_STAT)) == (4196, 8192)
    assert counters.io_stat_bytes(write_file("")) == (0, 0)


def test_working_set_is_usage_minus_inactive_file_never_negative():
    assert counters.working_set(100 * MiB, 30 * MiB) == 70 * MiB
    assert counters.working_set(10 * MiB, 30 * MiB) == 0


def test_long_files_are_read_whole(tmp_path):
    path = tmp_path / "long"
    text = "".join(f"key{i} {i}\n" for i in range(20000))
    path.write_text(text)
    assert files.read(str(path)) == text


WORKER = """
import os, time
data = b"x" * (24 << 20)
fd = os.open({path!r}, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"y" * (8 << 20))
os.close(fd)
end = time.process_time() + 0.2
while time.process_time() < end:
    pass
print("ready", flush=True)
time.sleep(60)
"""


def test_stats_of_a_working_cgroup(cg, tmp_path):
    cg.create("box", Limits(memory_bytes=128 * MiB, pids_limit=50))
    empty = cg.driver.stats("box")
    proc = cg.start("box", WORKER.format(path=str(tmp_path / "data")), stdout=-1, text=True)
    assert proc.stdout.readline() == "ready\n"
    s = cg.driver.stats("box")
    assert set(s) == set(empty) == {
        "cpu_usage_ns", "cpu_throttled_periods", "cpu_throttled_ns", "memory_bytes",
        "memory_working_set_bytes", "memory_cache_bytes", "memory_limit_bytes", "pids",
        "pids_limit", "oom_kills", "blk_read_bytes", "blk_write_bytes",
    }
    assert s["cpu_usage_ns"] >= 200_000_000 > empty["cpu_usage_ns"]
    assert s["memory_bytes"] >= 24 * MiB
    assert s["memory_cache_bytes"] >= 8 * MiB
    assert s["memory_working_set_bytes"] <= s["memory_bytes"]
    assert s["memory_working_set_bytes"] >= 24 * MiB
    assert (s["memory_limit_bytes"], s["pids_limit"]) == (128 * MiB, 50)
    assert s["pids"] == 1
    assert s["oom_kills"] == 0
    assert s["cpu_throttled_periods"] == s["cpu_throttled_ns"] == 0


def whole_disk(dev):
    """The disk a (possibly partition) device number belongs to, as "MAJ:MIN"."""
    sys_dev = os.path.realpath(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    if os.path.exists(f"{sys_dev}/partition"):
        sys_dev = os.path.dirname(sys_dev)
    with open(f"{sys_dev}/dev") as f:
        return f.read().strip()


def test_direct_writes_are_counted_as_block_io(cg, tmp_path):
    dev = os.stat(tmp_path).st_dev
    if os.major(dev) == 0:
        pytest.skip("the temporary directory is not on a block device")
    cg.create("box")
    if cg.driver.version == "v1":
        # Since Linux 6.x, v1 blkio counters only run on a disk where
        # blk-throttle is active; a rule far above any real rate activates it.
        files.write(f"{cg.driver.paths('box')['blkio']}/blkio.throttle.read_bps_device", f"{whole_disk(dev)} {1 << 50}")
    code = f"""
import mmap, os
buf = mmap.mmap(-1, 1 << 20)
buf.write(b"z" * (1 << 20))
fd = os.open({str(tmp_path / "direct")!r}, os.O_WRONLY | os.O_CREAT | os.O_DIRECT)
os.write(fd, buf)
os.fsync(fd)
os.close(fd)
fd = os.open({str(tmp_path / "direct")!r}, os.O_RDONLY | os.O_DIRECT)
os.readv(fd, [buf])
os.close(fd)
"""
    proc = cg.start("box", code)
    assert proc.wait(timeout=30) == 0
    s = cg.driver.stats("box")
    assert s["blk_write_bytes"] >= MiB
    assert s["blk_read_bytes"] >= MiB
