"""The main process's output log: timestamped entries, bounded by rotation,
followed live, and no file at all for a container that prints nothing."""

import os
import time


from runtime.config import ContainerConfig
from runtime.shim import logs


def test_entries_carry_their_stream_and_time(rt):
    before = time.time()
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", "echo out; sleep 0.1; echo err >&2"]))
    rt.wait(state.id)
    entries = list(rt.logs(state.id))
    assert [(e["stream"], e["data"]) for e in entries] == [("stdout", b"out\n"), ("stderr", b"err\n")]
    assert before <= entries[0]["t"] <= entries[1]["t"] <= time.time()
    rt.delete(state.id)


def test_a_container_that_prints_nothing_has_no_log_file(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["true"]))
    rt.wait(state.id)
    assert not os.path.exists(rt.inspect(state.id)["log_path"])
    assert list(rt.logs(state.id)) == []
    rt.delete(state.id)


def test_following_waits_for_the_first_output(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", "sleep 0.5; echo late"]))
    assert [e["data"] for e in rt.logs(state.id, follow=True)] == [b"late\n"]
    rt.delete(state.id, force=True)


def test_the_log_rotates_past_its_bound(tmp_path):
    writer = logs.LogWriter(tmp_path, max_bytes=1000)
    for i in range(100):
        writer.write("stdout", f"line {i}\n".encode())
    writer.close()
    assert os.path.getsize(tmp_path / logs.NAME) <= 1000
    assert os.path.getsize(tmp_path / f"{logs.NAME}.1") <= 1000
    data = [e["data"] for e in logs.read(tmp_path)]
    # What is kept is the newest output, in order, up to the last line written.
    assert data == [f"line {i}\n".encode() for i in range(100 - len(data), 100)] and len(data) > 10
