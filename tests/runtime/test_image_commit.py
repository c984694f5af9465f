"""Commit: a container's writable layer on top of its image becomes a new
image that shares the base's layer, with the container's command,
environment and working directory as its defaults."""

import glob
import os
import subprocess
import sys
import time

import pytest

from runtime import Conflict, ContainerConfig, NotFound, TerrariumError

# Added, changed and deleted files; /etc replaced by a new directory of the
# same name (an opaque directory in the layer); a symlink and a hard link.
CHANGES = (
    "echo added > /added; echo changed > /etc/group; rm /bin/vi /etc/passwd;"
    " rm -rf /var; mkdir -p /var/new; echo fresh > /var/new/file;"
    " ln -s /added /link; ln /added /hard; mkdir /home/student; echo x > /home/student/notes"
)
LISTING = "cat /added /etc/group; ls /bin/vi /etc/passwd /var/log 2>&1; ls /var; readlink /link; stat -c '%h %i' /added /hard"


def logs(rt, state) -> str:
    return b"".join(entry["data"] for entry in rt.logs(state.id)).decode()


def started(rt, script: str, **options):
    """A container running script, then sleeping, once script is done."""
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", f"{script}; echo ready; sleep 600"], **options))
    deadline = time.monotonic() + 30
    while "ready" not in logs(rt, state) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "ready" in logs(rt, state)
    return state


def run_in(rt, image: str, argv: list[str]) -> tuple[int, str]:
    """Run argv in a new container of image to completion; (exit code, output)."""
    state = rt.wait(rt.run(ContainerConfig(image=image, command=argv)).id)
    out = logs(rt, state)
    rt.delete(state.id)
    return state.exit_code, out


def test_files_added_changed_and_deleted_appear_so_in_a_container_of_the_new_image(rt):
    state = rt.wait(rt.run(ContainerConfig(image="busybox", command=["sh", "-c", CHANGES])).id)
    assert state.exit_code == 0
    info = rt.commit(state.id, "saved")
    assert info.parent == rt.images.get("busybox").id
    state2 = rt.wait(rt.run(ContainerConfig(image="saved", command=["sh", "-c", LISTING])).id)
    out = logs(rt, state2)
    lines = out.splitlines()
    assert lines[:2] == ["added", "changed"]
    assert "/bin/vi: No such file or directory" in out and "/etc/passwd: No such file or directory" in out
    assert "/var/log: No such file or directory" in out
    assert "new" in lines and "/added" in lines
    links, inodes = zip(*(line.split() for line in lines[-2:]))
    assert links == ("2", "2") and inodes[0] == inodes[1]


def test_the_base_layer_is_shared_not_copied(rt):
    state = rt.wait(rt.run(ContainerConfig(image="busybox", command=["sh", "-c", "echo a > /a"])).id)
    info = rt.commit(state.id, "saved")
    assert sorted(os.listdir(info.rootfs)) == ["a"]
    rt.delete(state.id)
    with pytest.raises(Conflict, match="base of image saved"):
        rt.images.remove("busybox")


def test_the_container_command_env_and_workdir_become_the_defaults(rt):
    cfg = ContainerConfig(image="busybox", command=["sh", "-c", "pwd; echo $GREETING"],
                          env={"GREETING": "hello"}, workdir="/tmp")
    state = rt.wait(rt.run(cfg).id)
    info = rt.commit(state.id, "saved")
    assert info.defaults["cmd"] == ["sh", "-c", "pwd; echo $GREETING"]
    assert "GREETING=hello" in info.defaults["env"] and info.defaults["workdir"] == "/tmp"
    state2 = rt.wait(rt.run(ContainerConfig(image="saved")).id)
    assert logs(rt, state2).split() == ["/tmp", "hello"]


def test_a_running_container_is_frozen_during_the_copy_and_running_after(rt, monkeypatch):
    state = started(rt, "echo live > /live")
    # What the cgroup says just before the thaw, and whether the layer was copied by then.
    at_thaw = []
    thaw = rt.driver.thaw

    def observed_thaw(name):
        copied = glob.glob(f"{rt.images.images}/.tmp-*/rootfs/live")
        at_thaw.append((rt.driver.frozen(name), bool(copied)))
        thaw(name)

    monkeypatch.setattr(rt.driver, "thaw", observed_thaw)
    rt.commit(state.id, "saved")
    assert at_thaw == [(True, True)]
    assert not rt.driver.frozen(state.id) and rt.get(state.id).status == "running"
    assert run_in(rt, "saved", ["cat", "/live"]) == (0, "live\n")


def test_a_paused_container_is_committed_and_stays_paused(rt):
    state = started(rt, "echo paused > /paused")
    rt.pause(state.id)
    rt.commit(state.id, "saved")
    assert rt.driver.frozen(state.id) and rt.get(state.id).status == "paused"
    assert run_in(rt, "saved", ["cat", "/paused"]) == (0, "paused\n")


def test_a_failed_copy_thaws_the_container_and_leaves_no_image(rt, monkeypatch):
    state = started(rt, "echo live > /live")
    freeze = rt.driver.freeze

    def freeze_and_block_the_copy(name):
        freeze(name)
        # The file the copy is about to make, made first: the copy fails on it.
        (tmp,) = glob.glob(f"{rt.images.images}/.tmp-*/rootfs")
        open(f"{tmp}/live", "x").close()

    monkeypatch.setattr(rt.driver, "freeze", freeze_and_block_the_copy)
    with pytest.raises(TerrariumError, match="cannot commit container"):
        rt.commit(state.id, "saved")
    assert not rt.driver.frozen(state.id) and rt.get(state.id).status == "running"
    assert [i.name for i in rt.images.list()] == ["busybox"]
    assert not glob.glob(f"{rt.images.images}/.tmp-*")


def test_a_file_chowned_inside_keeps_its_owner_in_the_new_image(rt):
    state = rt.wait(rt.run(ContainerConfig(
        image="busybox", command=["sh", "-c", "echo x > /owned; chown 1000:1001 /owned; mkdir /d; chown 7:8 /d"])).id)
    assert state.userns is not None
    info = rt.commit(state.id, "saved")
    assert (os.stat(f"{info.rootfs}/owned").st_uid, os.stat(f"{info.rootfs}/owned").st_gid) == (1000, 1001)
    assert run_in(rt, "saved", ["stat", "-c", "%u:%g", "/owned", "/d", "/bin/busybox"]) == (0, "1000:1001\n7:8\n0:0\n")


def test_a_container_with_a_disk_limit_is_committed_running_and_stopped(rt):
    state = started(rt, "echo disk > /on-disk", disk_bytes=64 << 20)
    rt.commit(state.id, "running-disk")
    rt.stop(state.id, timeout=1)
    rt.commit(state.id, "stopped-disk")
    for name in ("running-disk", "stopped-disk"):
        assert run_in(rt, name, ["cat", "/on-disk"]) == (0, "disk\n")


def test_a_taken_name_is_refused_and_nothing_is_left(rt):
    state = rt.wait(rt.run(ContainerConfig(image="busybox", command=["sh", "-c", "echo a > /a"])).id)
    before = sorted(os.listdir(rt.images.images))
    with pytest.raises(Conflict, match="already exists"):
        rt.commit(state.id, "busybox")
    assert sorted(os.listdir(rt.images.images)) == before
    assert [i.name for i in rt.images.list()] == ["busybox"]


def test_an_unknown_container_is_refused(rt):
    with pytest.raises(NotFound):
        rt.commit("no-such-container", "saved")
    assert [i.name for i in rt.images.list()] == ["busybox"]


def test_the_cli_commits_and_prints_the_image_id(rt, state_root):
    state = rt.wait(rt.run(ContainerConfig(image="busybox", command=["sh", "-c", "echo cli > /cli"])).id)
    done = subprocess.run([sys.executable, "-m", "runtime", "commit", state.name, "--name", "from-cli"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == rt.images.get("from-cli").id
    assert run_in(rt, "from-cli", ["cat", "/cli"]) == (0, "cli\n")
