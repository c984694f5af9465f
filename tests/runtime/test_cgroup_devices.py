"""Device rules: only the container's /dev devices open; block devices are denied."""

import os
import stat
import subprocess
import sys

import pytest


from runtime.cgroups import bpf_devices

UNIFIED = "/sys/fs/cgroup/unified"

PROBE = """
import errno, os, stat
for name in ("null", "zero", "urandom", "kmsg", "loop"):
    try:
        os.close(os.open(os.path.join({dir!r}, name), os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY))
        print(name, "ok")
    except OSError as exc:
        print(name, errno.errorcode[exc.errno])
try:
    os.mknod(os.path.join({dir!r}, "made"), stat.S_IFBLK | 0o600, os.makedev(7, 0))
    print("mknod ok")
except OSError as exc:
    print("mknod", errno.errorcode[exc.errno])
"""

EXPECTED = {"null": "ok", "zero": "ok", "urandom": "ok", "kmsg": "EPERM", "loop": "EPERM", "mknod": "ok"}


@pytest.fixture
def device_dir(tmp_path):
    """A tmpfs (so device nodes work whatever tmp_path sits on) holding nodes
    for allowed devices, /dev/kmsg and the first loop block device."""
    path = tmp_path / "dev"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=700", "tmpfs", str(path)], check=True)
    try:
        nodes = {
            "null": (stat.S_IFCHR, 1, 3),
            "zero": (stat.S_IFCHR, 1, 5),
            "urandom": (stat.S_IFCHR, 1, 9),
            "kmsg": (stat.S_IFCHR, 1, 11),
            "loop": (stat.S_IFBLK, 7, 0),
        }
        for name, (kind, major, minor) in nodes.items():
            os.mknod(path / name, kind | 0o600, os.makedev(major, minor))
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def probe(results_text):
    return dict(line.split() for line in results_text.splitlines())


def test_devices_outside_the_cgroup_are_not_refused(device_dir):
    """The reference: outside the cgroup no node is refused for permission
    (a block device whose driver is not loaded may answer ENXIO)."""
    code = PROBE.format(dir=str(device_dir))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    results = probe(out)
    assert set(results) == set(EXPECTED)
    assert "EPERM" not in results.values()


def test_only_allowed_devices_open_inside_the_cgroup(cg, device_dir):
    cg.create("box")
    proc = cg.start("box", PROBE.format(dir=str(device_dir)), stdout=-1, text=True)
    out, _ = proc.communicate(timeout=30)
    assert probe(out) == EXPECTED


@pytest.mark.v1only
def test_v1_device_list_is_exactly_the_allowed_rules(cg):
    cg.create("box")
    with open(f"{cg.driver.paths('box')['devices']}/devices.list") as f:
        rules = f.read().split("\n")
    assert [r for r in rules if r] == [
        "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
        "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm", "c *:* m", "b *:* m",
    ]


@pytest.mark.v1only
def test_bpf_device_program_enforces_rules_on_a_hybrid_host(cg, cgroup_parent, device_dir):
    """The eBPF program the v2 driver uses also runs on a hybrid host's
    cgroup2 mount, so it is tested here too and not only in the VM."""
    if not os.path.exists(f"{UNIFIED}/cgroup.controllers"):
        pytest.skip("no cgroup2 mount at /sys/fs/cgroup/unified")
    cgroup = f"{UNIFIED}/{cgroup_parent}/box"
    os.makedirs(cgroup)
    try:
        bpf_devices.restrict(cgroup)
        r, w = os.pipe()
        proc = subprocess.Popen(
            [sys.executable, "-c", "import os; os.read(0, 1)\n" + PROBE.format(dir=str(device_dir))],
            stdin=r, stdout=subprocess.PIPE, text=True,
        )
        os.close(r)
        with open(f"{cgroup}/cgroup.procs", "w") as f:
            f.write(str(proc.pid))
        os.write(w, b"g")
        os.close(w)
        out, _ = proc.communicate(timeout=30)
        assert probe(out) == EXPECTED
    finally:
        os.rmdir(cgroup)
