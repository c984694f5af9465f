"""A disk limit on a container's writable layer (`--disk`, disk_bytes),
enforced by the kernel: a write past it gets ENOSPC in the container and
nothing outside notices. Every writer stops at 64 MiB, so that a runtime
without the limit fails these tests instead of filling the host's disk."""

import json
import os
import subprocess
import sys
import time

from container_testing import sh
from loop_devices import backed_under

from runtime.config import ContainerConfig

MIB = 1 << 20
FILL = "dd if=/dev/zero of={path} bs=1M count=64 2>&1; echo size $(stat -c %s {path})"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, text=True, timeout=60)


def written(output: str) -> int:
    return int(output.split("size")[-1].split()[0])


def logs_of(rt, cid) -> str:
    return b"".join(entry["data"] for entry in rt.logs(cid)).decode()


def exec_output(rt, cid, argv) -> tuple[int, str]:
    session = rt.exec(cid, argv)
    try:
        chunks = []
        while chunk := os.read(session.stdout, 65536):
            chunks.append(chunk)
        return session.wait(), b"".join(chunks).decode()
    finally:
        session.close()


def wait_for_output(rt, cid, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while text not in (output := logs_of(rt, cid)):
        assert time.monotonic() < deadline, f"no {text!r} in {output!r}"
        time.sleep(0.05)
    return output


def test_writing_past_the_limit_stops_with_no_space_left_near_it(rt):
    code, output = sh(rt, FILL.format(path="/big"), disk_bytes=16 * MIB)
    assert "No space left on device" in output
    # The limit is the disk's size; ext4's journal and tables take a little of it.
    assert 12 * MIB <= written(output) <= 16 * MIB


def test_a_full_container_leaves_the_host_and_another_container_writing(rt, tmp_path):
    owner = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", FILL.format(path="/big") + "; sleep 60"],
                                   disk_bytes=16 * MIB))
    wait_for_output(rt, owner.id, "size")
    assert "No space left on device" in logs_of(rt, owner.id)
    # While it stays full: another container, limited or not, and the host write as usual.
    code, output = sh(rt, FILL.format(path="/other").replace("count=64", "count=32"))
    assert code == 0 and written(output) == 32 * MIB
    code, output = sh(rt, FILL.format(path="/other").replace("count=64", "count=8"), disk_bytes=16 * MIB)
    assert code == 0 and written(output) == 8 * MIB
    host_file = tmp_path / "host-file"
    host_file.write_bytes(b"\0" * (8 * MIB))
    assert host_file.stat().st_size == 8 * MIB
    # The full container itself: deleting frees its space for it again.
    assert exec_output(rt, owner.id, ["sh", "-c", "rm /big && echo again > /small && cat /small"]) == (0, "again\n")
    rt.delete(owner.id, force=True)


def test_the_limit_and_the_files_survive_stop_and_start(rt):
    state = rt.create(ContainerConfig(image="busybox", command=["sh", "-c", "sleep 60"], disk_bytes=16 * MIB))
    rt.start(state.id)
    assert exec_output(rt, state.id, ["dd", "if=/dev/zero", "of=/first", "bs=1M", "count=8"])[0] == 0
    rt.stop(state.id, timeout=0)
    rt.start(state.id)
    code, output = exec_output(rt, state.id, ["sh", "-c", FILL.format(path="/second")])
    assert "No space left on device" in output
    assert written(output) <= 8 * MIB
    assert exec_output(rt, state.id, ["stat", "-c", "%s", "/first"]) == (0, f"{8 * MIB}\n")
    rt.delete(state.id, force=True)


def test_delete_frees_the_disk(rt, state_root):
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", FILL.format(path="/big")],
                                   disk_bytes=16 * MIB))
    rt.wait(state.id)
    image = rt.inspect(state.id)["disk"]["image_path"]
    assert os.stat(image).st_blocks * 512 >= 12 * MIB
    rt.delete(state.id)
    assert not os.path.exists(image)
    assert not backed_under(state_root)


def test_inspect_shows_the_limit(rt):
    cid = cli("create", "--disk", "32m", "--name", "limited", "busybox", "true").stdout.strip()
    data = json.loads(cli("inspect", "limited").stdout)
    assert data["id"] == cid and data["config"]["disk_bytes"] == 32 * MIB
    assert data["disk"]["limit_bytes"] == 32 * MIB
    # A sparse file: formatting it wrote a little metadata, not its size.
    assert 0 < data["disk"]["host_bytes"] < 4 * MIB


def test_a_bad_or_too_small_disk_is_one_error_and_creates_nothing(rt, state_root):
    for value in ("12x", "-1", "1m", "4096"):
        for command in ("run", "create"):
            result = cli(command, f"--disk={value}", "busybox", "true")
            assert result.returncode != 0 and result.stdout == ""
            assert len(result.stderr.strip().splitlines()) == 1
            assert "disk" in result.stderr or "size" in result.stderr
    assert rt.list(all=True) == []
    containers = state_root / "containers"
    assert not containers.exists() or [p.name for p in containers.iterdir() if not p.name.startswith(".")] == []


def test_a_removed_on_exit_container_is_limited_too(rt, state_root):
    result = cli("run", "--rm", "--disk", "16m", "busybox", "sh", "-c", FILL.format(path="/big"))
    assert "No space left on device" in result.stdout
    assert 12 * MIB <= written(result.stdout) <= 16 * MIB
    assert rt.list(all=True) == []


def test_a_volatile_limited_layer_starts_again_empty_and_limited(rt):
    script = "test -e /kept && exit 3; touch /kept; " + FILL.format(path="/big")
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", script], volatile=True, disk_bytes=16 * MIB))
    assert rt.wait(state.id).exit_code == 0
    rt.start(state.id)
    assert rt.wait(state.id).exit_code == 0
    output = logs_of(rt, state.id)
    assert output.count("No space left on device") == 2
    rt.delete(state.id)


def test_a_container_without_its_disk_cannot_start(rt):
    state = rt.create(ContainerConfig(image="busybox", command=["true"], disk_bytes=16 * MIB))
    os.unlink(rt.inspect(state.id)["disk"]["image_path"])
    try:
        rt.start(state.id)
    except Exception as exc:  # noqa: BLE001 - the message is what is checked
        assert "disk" in str(exc)
    else:
        raise AssertionError("started without its disk")
    assert rt.get(state.id).status == "created"
    rt.delete(state.id)
