"""Every container in a user namespace of its own by default: its root is an
unprivileged host id, from a range no other live container holds."""

import os
import signal
import subprocess
import sys
import time

import pytest

from container_testing import TrackedRuntime, alive, left_running, sh
from runtime import ContainerConfig, ImageStore, NotPermitted
from runtime import id_ranges


def started(rt, script="sleep 600", **options):
    return rt.run(ContainerConfig(image="busybox", command=["sh", "-c", script], **options))


def output(rt, state):
    return b"".join(entry["data"] for entry in rt.logs(state.id)).decode()


def test_the_container_root_is_a_range_of_its_own_on_the_host(rt):
    state = started(rt)
    base = state.userns["uid_base"]
    assert base >= 100000 and state.userns["size"] == 65536
    with open(f"/proc/{state.pid}/uid_map") as f:
        assert f.read().split() == ["0", str(base), "65536"]
    with open(f"/proc/{state.pid}/status") as f:
        uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
    assert uids == [str(base)] * 4
    assert rt.inspect(state.id)["userns"] == {"uid_base": base, "size": 65536}


def test_two_containers_get_disjoint_ranges(rt):
    first, second = started(rt), started(rt)
    a, b = first.userns["uid_base"], second.userns["uid_base"]
    assert abs(a - b) >= 65536


def test_files_made_inside_belong_to_the_range_and_the_image_is_unchanged(rt):
    state = started(rt, "touch /made; touch /given; chown 1000:1000 /given; ls -ln /bin/busybox")
    state = rt.wait(state.id)
    base = state.userns["uid_base"]
    upper = f"{rt.store.path(state.id)}/upper"
    assert (os.stat(f"{upper}/made").st_uid, os.stat(f"{upper}/made").st_gid) == (base, base)
    assert (os.stat(f"{upper}/given").st_uid, os.stat(f"{upper}/given").st_gid) == (base + 1000, base + 1000)
    # Inside, the image's files are root's; on the host they still are, not copied nor chowned.
    assert output(rt, state).split()[2:4] == ["0", "0"]
    rootfs = rt.images.get("busybox").rootfs
    assert os.stat(f"{rootfs}/bin/busybox").st_uid == 0
    assert not os.path.exists(f"{upper}/bin")


def test_a_host_file_readable_by_root_only_is_unreadable_inside(rt):
    state = rt.create(ContainerConfig(image="busybox", command=["cat", "/secret"]))
    upper = f"{rt.store.path(state.id)}/upper"
    # As if bound in by mistake: a file of the host's root in the container's view.
    with open(f"{upper}/secret", "w") as f:
        f.write("host secret")
    os.chmod(f"{upper}/secret", 0o600)
    state = rt.wait(rt.start(state.id).id)
    assert state.exit_code != 0 and "Permission denied" in output(rt, state)


def test_device_nodes_cannot_be_made(rt):
    code, out = sh(rt, "mknod /tmp/sda b 8 0 && echo made; mknod /tmp/null c 1 3 && echo made; echo end")
    assert "made" not in out and "Operation not permitted" in out


def test_ping_and_a_listener_below_1024_work(rt):
    code, out = sh(rt, "ping -c1 -W2 127.0.0.1 >/dev/null && echo pinged; "
                       "nc -l -p 80 -e true & sleep 0.3; netstat -ltn | grep -q ':80 ' && echo listening")
    assert "pinged" in out and "listening" in out


def test_what_the_runtime_gives_is_the_container_roots(rt):
    code, out = sh(rt, "stat -c '%u:%g %n' /dev/null /dev/shm /etc/hosts /etc/hostname / ; "
                       "echo x >> /etc/hosts && echo hosts-written; echo 1 > /dev/shm/f && echo shm-written")
    assert out.count("0:0 ") == 5, out
    assert "hosts-written" in out and "shm-written" in out


def test_capabilities_are_dockers_in_the_namespace(rt):
    code, out = sh(rt, "grep -E '^Cap(Eff|Bnd)' /proc/self/status")
    assert out.split() == ["CapEff:", "00000000a80425fb", "CapBnd:", "00000000a80425fb"]


def test_an_exec_joins_the_same_user_namespace(rt):
    state = started(rt)
    session = rt.exec(state.id, ["sh", "-c", "cat /proc/self/uid_map; id -u; readlink /proc/self/ns/user"])
    out = b""
    while chunk := os.read(session.stdout, 4096):
        out += chunk
    out = out.decode()
    assert session.wait() == 0
    assert out.split()[:4] == ["0", str(state.userns["uid_base"]), "65536", "0"]
    assert out.split()[4] == os.readlink(f"/proc/{state.pid}/ns/user")
    session.close()


def test_a_restart_keeps_the_range_and_delete_frees_it(rt):
    state = started(rt, "true")
    base = rt.wait(state.id).userns["uid_base"]
    assert rt.wait(rt.start(state.id).id).userns["uid_base"] == base
    slot = f"{rt.root}/{id_ranges.DIRECTORY}/{(base - id_ranges.pool()[0]) // id_ranges.SIZE}"
    assert id_ranges.holder(slot) == state.id
    rt.delete(state.id)
    assert not os.path.exists(slot)


def test_a_worker_killed_and_restarted_finds_the_same_range(rt):
    script = "ls -ln /made /given; touch /made /given; chown 1000:1000 /given; echo ready; sleep 600"
    code = ("import sys; sys.path.insert(0, '.'); from runtime.lifecycle import Runtime; "
            "from runtime.config import ContainerConfig; "
            f"s = Runtime().run(ContainerConfig(image='busybox', command=['sh', '-c', {script!r}])); "
            "print(s.id, flush=True); import time; time.sleep(600)")
    worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    cid = worker.stdout.readline().strip()
    worker.kill()
    worker.wait()
    worker.stdout.close()
    state = rt.get(cid)
    rt.seen_pids.update((state.pid, state.shim_pid))
    base = state.userns["uid_base"]
    while "ready" not in output(rt, state):
        assert alive(state.pid)
        time.sleep(0.01)
    rt.kill(cid, signal.SIGKILL)
    rt.wait(cid)
    state = rt.start(cid)
    with open(f"/proc/{state.pid}/uid_map") as f:
        assert f.read().split() == ["0", str(base), "65536"]
    assert state.userns["uid_base"] == base
    while output(rt, state).count("ready") < 2:
        assert alive(state.pid)
        time.sleep(0.01)
    # The second run saw the first run's files with their owners inside; the host sees them in the range.
    assert [line.split()[2:4] for line in output(rt, state).splitlines() if line.startswith("-")] == [
        ["1000", "1000"], ["0", "0"]]
    upper = f"{rt.store.path(cid)}/upper"
    assert os.stat(f"{upper}/made").st_uid == base and os.stat(f"{upper}/given").st_uid == base + 1000


def test_a_setuid_root_binary_made_inside_gives_a_host_account_nothing(rt):
    state = rt.wait(started(rt, "cp /bin/busybox /suid && chmod 4755 /suid && ls -ln /suid").id)
    base = state.userns["uid_base"]
    assert output(rt, state).split()[:3] == ["-rwsr-xr-x", "1", "0"]
    # Run by an unprivileged host account, as if the state root's 0700 directories did not stand in the way.
    fd = os.open(f"{rt.store.path(state.id)}/upper/suid", os.O_PATH | os.O_CLOEXEC)
    try:
        status = subprocess.run(["cat", "/proc/self/status"], executable=f"/proc/self/fd/{fd}", pass_fds=[fd],
                                user=65534, group=65534, extra_groups=[], capture_output=True, text=True,
                                check=True).stdout
    finally:
        os.close(fd)
    # Busybox's cat gives up its effective id right after the execve, by
    # setuid(real): unprivileged, that leaves the saved id the execve gave;
    # as root, it would have reset all four.
    real, effective, saved, fs = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert (real, effective, saved, fs) == ("65534", "65534", str(base), "65534")


def test_slots_of_containers_gone_are_reclaimed(rt):
    state = rt.wait(started(rt, "true").id)
    slot = (state.userns["uid_base"] - id_ranges.pool()[0]) // id_ranges.SIZE
    # A container deleted behind the runtime's back: its record gone, its slot left.
    subprocess.run(["rm", "-rf", rt.store.path(state.id)], check=True)
    assert id_ranges.reclaim(rt.root) == [slot]


def test_the_host_mode_keeps_the_hosts_ids(rt):
    code, out = sh(rt, "cat /proc/self/uid_map", userns="host")
    assert out.split() == ["0", "0", "4294967295"]


def test_a_missing_pool_is_one_clear_error(rt, monkeypatch):
    monkeypatch.setenv("TERRARIUM_USERNS_USER", "nobody-has-this-pool")
    with pytest.raises(NotPermitted, match="no id range for user namespaces"):
        started(rt)
    assert rt.list(all=True) == []


def test_a_state_root_that_cannot_be_idmapped_is_refused_with_the_way_out(tmp_path, cgroup_parent, busybox_tar):
    # ramfs, unlike tmpfs since Linux 6.3, has no idmapped mounts on any kernel.
    root = tmp_path / "ramfs"
    root.mkdir()
    subprocess.run(["mount", "-t", "ramfs", "-o", "mode=700", "terrarium-test", root], check=True)
    try:
        ImageStore(root).import_archive(busybox_tar, name="busybox")
        runtime = TrackedRuntime(root)
        for attempt in range(2):
            with pytest.raises(NotPermitted, match=rf"^--userns=auto shows the image through idmapped mounts, but "
                                                   rf"the state root {root} is on ramfs, which this kernel cannot "
                                                   rf"idmap .*: run with --userns=host, or move the state root to "
                                                   rf"ext4, xfs or btrfs$"):
                started(runtime, "true")
        assert runtime.list(all=True) == []
        assert not (root / id_ranges.DIRECTORY).exists()
        state = runtime.wait(started(runtime, "true", userns="host").id)
        assert state.exit_code == 0
        runtime.delete(state.id)
        assert not left_running(runtime.seen_pids)
    finally:
        subprocess.run(["umount", root], check=True)


RACE = """
import collections, os, sys
from runtime import id_ranges
root, role = sys.argv[1], sys.argv[2]
if role == "reclaimer":
    while not os.path.exists(f"{root}/stop"):
        id_ranges.reclaim(root)
    sys.exit(0)
start = id_ranges.pool()[0]
live, lost = collections.deque(), 0
for i in range(1500):
    cid = f"{os.getpid()}-{i}"
    os.mkdir(f"{root}/containers/{cid}")
    live.append((cid, id_ranges.claim(root, cid)))
    if len(live) > 3:
        os.rmdir(f"{root}/containers/{live.popleft()[0]}")
    lost += sum(id_ranges.holder(f"{root}/userns/{(base - start) // id_ranges.SIZE}") != cid for cid, base in live)
print(lost)
"""


def test_reclaims_racing_claims_never_free_a_held_slot(state_root):
    (state_root / "containers").mkdir()
    run = [sys.executable, "-c", RACE, str(state_root)]
    reclaimers = [subprocess.Popen([*run, "reclaimer"]) for _ in range(2)]
    try:
        claimers = [subprocess.Popen([*run, "claimer"], stdout=subprocess.PIPE, text=True) for _ in range(2)]
        lost = [int(c.communicate()[0]) for c in claimers]
    finally:
        (state_root / "stop").touch()
        assert [r.wait() for r in reclaimers] == [0, 0]
    assert lost == [0, 0]
