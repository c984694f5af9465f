"""Capabilities of a container process, read back from /proc/self/status after execve."""

import errno
import os
import shutil

import pytest

from forked_child import run_forked, status_fields
from runtime.errors import InvalidArgument
from runtime.isolation import capabilities
from runtime.linux import syscalls

DOCKER_DEFAULT_MASK = "00000000a80425fb"
STATUS = ["/bin/busybox", "cat", "/proc/self/status"]


def _status_after(setup) -> dict[str, str]:
    code, out = run_forked(setup, STATUS)
    assert code == 0, out
    return status_fields(out)


def test_default_caps_mask_is_dockers():
    assert f"{capabilities.mask(capabilities.DEFAULT_CAPS):016x}" == DOCKER_DEFAULT_MASK


def test_root_process_keeps_exactly_the_default_14():
    st = _status_after(capabilities.apply_default)
    assert st["CapEff"] == DOCKER_DEFAULT_MASK
    assert st["CapPrm"] == DOCKER_DEFAULT_MASK
    assert st["CapBnd"] == DOCKER_DEFAULT_MASK
    assert st["CapInh"] == "0000000000000000"
    assert st["CapAmb"] == "0000000000000000"
    assert st["NoNewPrivs"] == "1"
    assert st["Groups"] == ""


def test_non_root_user_ends_with_no_capabilities():
    st = _status_after(lambda: capabilities.apply_default(uid=1000, gid=1000))
    assert st["Uid"].split() == ["1000"] * 4
    assert st["Gid"].split() == ["1000"] * 4
    assert st["Groups"] == ""
    assert st["CapEff"] == "0000000000000000"
    assert st["CapPrm"] == "0000000000000000"
    assert st["CapInh"] == "0000000000000000"
    assert st["CapBnd"] == DOCKER_DEFAULT_MASK
    assert st["NoNewPrivs"] == "1"


def test_supplementary_groups_are_the_given_ones():
    st = _status_after(lambda: capabilities.apply_default(uid=1000, gid=1000, groups=[1000, 20]))
    assert sorted(st["Groups"].split()) == ["1000", "20"]


def test_smaller_keep_set_is_honoured():
    st = _status_after(lambda: capabilities.apply_default(keep=["CHOWN", "CAP_KILL"]))
    assert st["CapEff"] == "0000000000000021"
    assert st["CapBnd"] == "0000000000000021"


def _try_sys_nice_and_regain():
    capabilities.apply_default()
    try:
        os.nice(-1)
        os.write(1, b"nice raised\n")
    except OSError as e:
        os.write(1, f"nice {errno.errorcode[e.errno]}\n".encode())
    sys_admin = 1 << capabilities.CAP_NUMBERS["CAP_SYS_ADMIN"]
    effective, permitted, _ = syscalls.capget()
    try:
        syscalls.capset(effective | sys_admin, permitted | sys_admin, 0)
        os.write(1, b"capset regained\n")
    except OSError as e:
        os.write(1, f"capset {errno.errorcode[e.errno]}\n".encode())
    in_bounding = syscalls.prctl(syscalls.PR_CAPBSET_READ, capabilities.CAP_NUMBERS["CAP_SYS_ADMIN"])
    os.write(1, f"bounding {in_bounding}\n".encode())


def test_dropped_capabilities_cannot_be_used_or_regained():
    code, out = run_forked(_try_sys_nice_and_regain)
    assert code == 0, out
    assert out.split("\n")[:3] == ["nice EPERM", "capset EPERM", "bounding 0"]


def test_unknown_capability_is_invalid_argument():
    with pytest.raises(InvalidArgument, match="CAP_NOPE"):
        capabilities.mask(["CAP_NOPE"])


def _exec_setuid_copy_as_1000(suid_binary, apply: bool):
    def setup():
        # Opened as root: uid 1000 may not traverse pytest's 0700 tmp dirs,
        # but an exec through /proc/self/fd needs no traversal.
        fd = os.open(suid_binary, os.O_RDONLY)
        if apply:
            capabilities.apply_default(uid=1000, gid=1000)
        else:
            os.setgroups([])
            os.setresgid(1000, 1000, 1000)
            os.setresuid(1000, 1000, 1000)
        os.execv(f"/proc/self/fd/{fd}", ["cat", "/proc/self/status"])
    code, out = run_forked(setup)
    assert code == 0, out
    return status_fields(out)["Uid"].split()


def test_setuid_root_binary_gives_no_root_under_no_new_privs(tmp_path):
    # coreutils cat, not busybox: busybox gives up a setuid root it does not need.
    suid_binary = tmp_path / "suid-cat"
    shutil.copy("/bin/cat", suid_binary)
    os.chown(suid_binary, 0, 0)
    os.chmod(suid_binary, 0o4755)
    assert _exec_setuid_copy_as_1000(suid_binary, apply=False) == ["1000", "0", "0", "0"]
    assert _exec_setuid_copy_as_1000(suid_binary, apply=True) == ["1000"] * 4
