"""Every isolation default, checked from inside a container, with a user
namespace of the container's own (the default) and with the host's ids."""

import os
import sys

import pytest

import container_testing
from container_testing import mounts_under, run, sh

from runtime.config import ContainerConfig


@pytest.fixture(autouse=True, params=["auto", "host"])
def userns(request, monkeypatch):
    """Containers of this module's tests default to the mode of the run."""
    mode = request.param

    class Config(ContainerConfig):
        def __init__(self, *args, userns=mode, **kwargs):
            super().__init__(*args, userns=userns, **kwargs)

    for module in (sys.modules[__name__], container_testing):
        monkeypatch.setattr(module, "ContainerConfig", Config)
    return mode


def test_command_runs_as_pid_1(rt):
    assert sh(rt, "echo $$") == (0, "1\n")


def test_hostname_is_set_from_config_and_written_to_etc(rt):
    code, out = sh(rt, "hostname; cat /etc/hostname; grep -c box1 /etc/hosts", hostname="box1")
    assert (code, out.split()) == (0, ["box1", "box1", "1"])


def test_hostname_defaults_to_the_container_name(rt):
    assert sh(rt, "hostname", name="web_1") == (0, "web-1\n")


def test_every_namespace_differs_from_the_hosts(rt):
    kinds = ("pid", "mnt", "uts", "ipc", "net", "cgroup")
    code, out = sh(rt, " ; ".join(f"readlink /proc/self/ns/{k}" for k in kinds))
    inside = out.split()
    assert code == 0 and len(inside) == len(kinds)
    for kind, link in zip(kinds, inside):
        assert link != os.readlink(f"/proc/self/ns/{kind}"), kind


def test_mount_is_denied(rt):
    code, out = sh(rt, "mkdir -p /mnt; mount -t tmpfs none /mnt && echo mounted")
    assert code != 0 and "mounted" not in out


def test_proc_sys_and_sys_are_read_only(rt):
    code, out = sh(rt, "echo x > /proc/sys/kernel/hostname && echo wrote-proc; "
                       "touch /sys/kernel/x && echo wrote-sys; "
                       "touch /sys/fs/cgroup/x && echo wrote-cgroup; echo done")
    assert code == 0 and out.count("Read-only file system") == 3
    assert "wrote" not in out


def test_masked_paths_read_empty(rt):
    code, out = sh(rt, "wc -c < /proc/interrupts; wc -c < /proc/keys; ls /sys/firmware | wc -l; ls /proc/acpi | wc -l")
    assert code == 0 and out.split() == ["0", "0", "0", "0"]


def test_capabilities_seccomp_and_no_new_privs(rt):
    code, out = sh(rt, "grep -E '^(CapEff|CapBnd|CapInh|CapAmb|Seccomp|NoNewPrivs):' /proc/self/status")
    status = dict(line.split(":\t") for line in out.strip().splitlines())
    assert status == {"CapInh": "0000000000000000", "CapEff": "00000000a80425fb", "CapBnd": "00000000a80425fb",
                      "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2"}


def test_dev_holds_only_the_allowed_entries(rt):
    code, out = sh(rt, "ls /dev; ls /dev/pts; readlink /dev/ptmx; readlink /dev/fd; grep ' /dev/shm ' /proc/mounts")
    names = out.split()
    assert names[:17] == sorted(["fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr",
                                 "stdin", "stdout", "tty", "urandom", "zero"]) + ["ptmx", "pts/ptmx", "/proc/self/fd"]
    assert "size=65536k" in out


def test_a_created_block_device_cannot_be_opened(rt):
    # With the host's ids (in a user namespace of its own, mknod itself is refused: test_user_namespaces).
    code, out = sh(rt, "mknod /tmp/sda b 8 0 && echo made; head -c1 /tmp/sda && echo opened; echo end", userns="host")
    assert "made" in out and "opened" not in out and "Operation not permitted" in out


def test_network_has_only_loopback_and_it_is_up(rt):
    code, out = sh(rt, "ls /sys/class/net; cat /sys/class/net/lo/flags")
    assert out.split()[0] == "lo" and len(out.split()) == 2
    assert int(out.split()[1], 16) & 1


def test_host_files_and_mounts_are_not_visible(rt, tmp_path):
    marker = tmp_path / "host-secret"
    marker.write_text("secret")
    code, out = sh(rt, f"ls {tmp_path} 2>&1; echo ---; cut -d' ' -f2 /proc/mounts")
    listing, points = out.split("---")
    points = set(points.split())
    assert "host-secret" not in listing and "No such file" in listing
    assert not any(p.startswith(("/tmp/", "/home", "/boot", "/var")) for p in points)
    assert {"/", "/proc", "/sys", "/dev", "/dev/pts"} <= points


def test_the_host_sees_no_mount_of_a_container_or_of_a_spare(rt, state_root):
    # A running container, and the spare shim a start forks: their pid 1s
    # mount the overlay, /proc, /sys and /dev in their own namespaces only.
    state = rt.run(ContainerConfig(image="busybox", command=["sleep", "60"]))
    assert rt.get(state.id).status == "running"
    assert not mounts_under(state_root)
    with open(f"/proc/{state.pid}/mountinfo") as f:
        assert any(line.split()[4] == "/" and "overlay" in line for line in f)


def test_processes_of_the_host_are_not_visible(rt):
    assert sh(rt, "echo /proc/[0-9]*") == (0, "/proc/1\n")


def test_environment_workdir_and_user_are_applied(rt):
    code, out = run(rt, ["sh", "-c", "echo $GREETING; pwd; id -u; id -g"],
                    env={"GREETING": "hi"}, workdir="/tmp", user="1000:1001")
    assert (code, out.split()) == (0, ["hi", "/tmp", "1000", "1001"])


def test_the_ids_are_the_modes(rt, userns):
    code, out = sh(rt, "cat /proc/self/uid_map")
    inside, outside, count = out.split()
    assert (code, inside) == (0, "0")
    assert (int(outside) >= 100000 and count == "65536") if userns == "auto" else (outside, count) == ("0", "4294967295")
