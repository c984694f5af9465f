"""/etc/hostname, /etc/hosts and /etc/resolv.conf: written by the runtime
for each start and bind-mounted over the init layer's, as Docker does, so
nothing is written into the container's own layer."""

import io
import os
import tarfile
import threading

from container_testing import sh

from runtime.config import ContainerConfig
from runtime.image.store import ImageStore
from runtime.isolation import overlay


def test_the_etc_files_are_the_runtimes_and_not_in_the_containers_layer(rt):
    state = rt.run(ContainerConfig(image="busybox", hostname="box7",
                                   command=["sh", "-c", "cat /etc/hostname /etc/hosts; echo ---; cat /etc/resolv.conf"]))
    rt.wait(state.id)
    out = b"".join(e["data"] for e in rt.logs(state.id)).decode()
    hostname, hosts = out.split("---")[0].split("\n", 1)
    assert hostname == "box7" and "127.0.1.1\tbox7" in hosts and "127.0.0.1\tlocalhost" in hosts
    assert not os.path.exists(f"{rt.store.path(state.id)}/upper/etc")
    rt.delete(state.id)


def test_a_container_may_edit_them_and_gets_them_anew_at_its_next_start(rt):
    state = rt.run(ContainerConfig(image="busybox", command=["sh", "-c", "grep -c edited /etc/hosts; echo edited >> /etc/hosts"]))
    rt.wait(state.id)
    rt.start(state.id)
    rt.wait(state.id)
    counts = [e["data"].decode().strip() for e in rt.logs(state.id)]
    assert counts == ["0", "0"]
    rt.delete(state.id)


def test_they_cannot_be_removed_or_replaced_from_inside(rt):
    code, out = sh(rt, "rm /etc/hosts 2>&1; echo x > /tmp/h; mv /tmp/h /etc/hostname 2>&1; cat /etc/hostname",
                   hostname="box8")
    assert "busy" in out.lower() and out.strip().endswith("box8")


def test_an_image_whose_etc_hosts_is_a_symlink_gets_the_runtimes_file(rt, busybox_tar, tmp_path):
    # The image points /etc/hosts at another of its files: that file is left alone.
    archive = tmp_path / "linked.tar"
    with tarfile.open(busybox_tar) as src, tarfile.open(archive, "w") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        link = tarfile.TarInfo("etc/hosts")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        dst.addfile(link)
        kept = tarfile.TarInfo("etc/kept")
        kept.size = 5
        dst.addfile(kept, io.BytesIO(b"kept\n"))
    ImageStore().import_archive(archive, name="linked")
    state = rt.run(ContainerConfig(image="linked", hostname="box9",
                                   command=["sh", "-c", "grep -c box9 /etc/hosts; head -1 /etc/passwd; cat /etc/kept"]))
    rt.wait(state.id)
    out = b"".join(e["data"] for e in rt.logs(state.id)).decode().split()
    assert out == ["1", "root:x:0:0:root:/root:/bin/sh", "kept"]
    rt.delete(state.id)


def test_the_init_layer_is_made_once_and_whole(state_root):
    made = []
    threads = [threading.Thread(target=lambda: made.append(overlay.init_layer(state_root))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 1 and sorted(os.listdir(state_root)) == [overlay.INIT_LAYER]
    for name in overlay.INIT_FILES:
        assert os.path.getsize(f"{made[0]}/{name}") == 0
