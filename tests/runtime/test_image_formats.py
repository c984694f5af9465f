"""Archive formats: compressions detected by magic, flat rootfs tars in pax
and GNU flavours with everything a real root filesystem holds, docker save
(legacy and newer) and OCI layouts with layers, whiteouts and opaque dirs."""

import bz2
import gzip
import io
import lzma
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from runtime.errors import ImportFailed
from runtime.image.store import ImageStore
from image_archives import E, IMAGE_CONFIG, docker_save, oci_layout, sha, tar_bytes, tree

LONG = "d" * 100 + "/" + "e" * 100 + "/" + "f" * 120
COMPRESS = {
    "none": lambda b: b,
    "gzip": gzip.compress,
    "xz": lzma.compress,
    "bzip2": bz2.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}


def rootfs_entries():
    return [
        E("bin", "dir"),
        E("bin/busybox", data=b"\x7fELF fake", mode=0o755),
        E("bin/sh", "symlink", link="/bin/busybox"),
        E("usr/bin/passwd", data=b"setuid", mode=0o4755),
        E("usr/bin/wall", data=b"setgid", mode=0o2755, gid=5),
        E("tmp", "dir", mode=0o1777),
        E("empty", "dir", mode=0o700),
        E("home/student", "dir", uid=1000, gid=1000, mode=0o750),
        E("home/student/notes", data=b"mine", uid=1000, gid=1000, mode=0o600),
        E("srv/highest-ids", data=b"x", uid=65535, gid=65534),
        E("usr/lib/libc.so", data=b"library"),
        E("usr/lib/libc.so.6", "hardlink", link="usr/lib/libc.so"),
        E(LONG, data=b"long name"),
        E(b"caf\xe9-latin1", data=b"not utf-8"),
        E("run/fifo", "fifo", mode=0o620),
        E("dev/null", "chr"),
        E("dev/sda", "blk"),
    ]


def check_rootfs(rootfs) -> None:
    rootfs = Path(rootfs)
    got = tree(rootfs)
    assert got[b"bin/sh"] == ("symlink", "/bin/busybox")
    assert got[b"usr/bin/passwd"] == ("file", 0, 0, 0o4755, b"setuid")
    assert got[b"usr/bin/wall"] == ("file", 0, 5, 0o2755, b"setgid")
    assert got[b"tmp"] == ("dir", 0, 0, 0o1777)
    assert got[b"empty"] == ("dir", 0, 0, 0o700)
    assert got[b"home/student"] == ("dir", 1000, 1000, 0o750)
    assert got[b"home/student/notes"] == ("file", 1000, 1000, 0o600, b"mine")
    assert got[b"srv/highest-ids"][1:3] == (65535, 65534)
    assert got[LONG.encode()][4] == b"long name"
    assert got[b"caf\xe9-latin1"][4] == b"not utf-8"
    assert got[b"run/fifo"][0] == stat.S_IFIFO and got[b"run/fifo"][3] == 0o620
    a, b = os.stat(rootfs / "usr/lib/libc.so"), os.stat(rootfs / "usr/lib/libc.so.6")
    assert (a.st_ino, a.st_nlink) == (b.st_ino, 2)
    assert os.stat(rootfs / "bin/busybox").st_mtime == 1_700_000_000
    assert not (rootfs / "dev/null").exists() and not (rootfs / "dev/sda").exists()


@pytest.mark.parametrize("compression", sorted(COMPRESS))
def test_flat_rootfs_in_every_compression_comes_out_right(state_root, tmp_path, compression):
    archive = tmp_path / "rootfs.bin"
    archive.write_bytes(COMPRESS[compression](tar_bytes(rootfs_entries())))
    info = ImageStore().import_archive(archive, name="flat")
    assert (info.format, info.compression) == ("rootfs", compression)
    assert info.devices_skipped == 2
    assert info.sha256 == sha(archive.read_bytes())[7:]
    check_rootfs(info.rootfs)
    assert info.file_count == len(tree(info.rootfs))
    assert info.size_bytes == sum(len(d) for i, d in rootfs_entries() if i.type == tarfile.REGTYPE)


def test_gnu_tar_long_names_and_links_are_read(state_root):
    long_target = "t" * 150 + "/target"
    entries = [E(long_target, data=b"t"), E("k" * 130, "hardlink", link=long_target), *rootfs_entries()]
    info = ImageStore().import_archive(io.BytesIO(tar_bytes(entries, fmt=tarfile.GNU_FORMAT)), name="gnu")
    check_rootfs(info.rootfs)
    assert (Path(info.rootfs) / ("k" * 130)).read_bytes() == b"t"


def test_ustar_prefix_field_joins_the_name(state_root):
    name = "p" * 90 + "/" + "n" * 90
    info = ImageStore().import_archive(io.BytesIO(tar_bytes([E(name, data=b"ok")], fmt=tarfile.USTAR_FORMAT)),
                                       name="ustar")
    assert (Path(info.rootfs) / name).read_bytes() == b"ok"


def test_files_in_setgid_dirs_get_the_archive_owner(state_root):
    # A new file takes a setgid directory's gid, also in a parent made implicitly.
    entries = [
        E("var/mail", "dir", gid=8, mode=0o2775),
        E("var/mail/root", data=b"r"),
        E("var/mail/implicit/root", data=b"i"),
        E("var/mail/staff", data=b"s", uid=0, gid=8),
        E("srv", "dir", gid=50),
        E("srv/root", data=b"r"),
    ]
    info = ImageStore().import_archive(io.BytesIO(tar_bytes(entries)), name="setgid")
    got = tree(info.rootfs)
    assert got[b"var/mail"] == ("dir", 0, 8, 0o2775)
    assert got[b"var/mail/root"] == ("file", 0, 0, 0o644, b"r")
    assert got[b"var/mail/implicit/root"] == ("file", 0, 0, 0o644, b"i")
    assert got[b"var/mail/staff"] == ("file", 0, 8, 0o644, b"s")
    assert got[b"srv/root"] == ("file", 0, 0, 0o644, b"r")


def test_busybox_rootfs_runs_after_import(state_root, busybox_tar):
    info = ImageStore().import_archive(busybox_tar, name="busybox")
    out = subprocess.run(["chroot", str(info.rootfs), "/bin/sh", "-c", "echo $((6*7)); ls /bin | wc -l"],
                         check=True, capture_output=True, text=True).stdout.split()
    assert out[0] == "42" and int(out[1]) > 100
    assert os.readlink(Path(info.rootfs) / "bin/ls") == "/bin/busybox"


LAYER1 = [E("etc", "dir"), E("etc/passwd", data=b"old"), E("usr/bin/tool", data=b"tool", mode=0o755),
          E("opt/old/a", data=b"a"), E("opt/old/b", data=b"b"), E("var/cache/x/data", data=b"cache"),
          E("keep", "dir"), E("keep/inside", data=b"k"), E("tobedir", data=b"file")]
LAYER2 = [E("etc/.wh.passwd"), E("opt/old/new", data=b"new"), E("opt/old/.wh..wh..opq"),
          E("tobedir", "dir"), E("tobedir/inner", data=b"inner"), E("var/.wh.cache")]
LAYER3 = [E("etc/passwd", data=b"root:x:0:0"), E("keep", data=b"now a file")]
EXPECTED = {
    b"etc": "dir", b"etc/passwd": b"root:x:0:0", b"usr": "dir", b"usr/bin": "dir", b"usr/bin/tool": b"tool",
    b"opt": "dir", b"opt/old": "dir", b"opt/old/new": b"new", b"var": "dir",
    b"tobedir": "dir", b"tobedir/inner": b"inner", b"keep": b"now a file",
}


def layered_result(info) -> dict:
    return {path: desc[4] if desc[0] == "file" else desc[0] for path, desc in tree(info.rootfs).items()}


LAYERS = [tar_bytes(LAYER1), tar_bytes(LAYER2), tar_bytes(LAYER3)]


@pytest.mark.parametrize("kind", ["docker-save-legacy", "docker-save-newer", "oci-layout"])
def test_layered_archive_applies_layers_and_whiteouts(state_root, kind):
    data = {"docker-save-legacy": lambda: docker_save(LAYERS), "docker-save-newer": lambda: docker_save(LAYERS, newer=True),
            "oci-layout": lambda: oci_layout(LAYERS)}[kind]()
    info = ImageStore().import_archive(io.BytesIO(gzip.compress(data)), name="layered")
    assert layered_result(info) == EXPECTED
    assert info.format == ("oci-layout" if kind == "oci-layout" else "docker-save")
    assert len(info.layers) == 3
    assert info.defaults == {"env": IMAGE_CONFIG["Env"], "cmd": IMAGE_CONFIG["Cmd"],
                             "entrypoint": IMAGE_CONFIG["Entrypoint"], "workdir": "/srv", "user": "1000:1000"}
    assert info.file_count == len(EXPECTED)


def test_docker_save_layer_not_matching_its_diff_id_is_rejected(state_root):
    data = docker_save(LAYERS, tamper_layer=tar_bytes([E("etc/shadow", data=b"tampered")]))
    with pytest.raises(ImportFailed, match="layer .*layer.tar: digest mismatch"):
        ImageStore().import_archive(io.BytesIO(data), name="tampered")
    assert ImageStore().list() == []


def test_oci_blob_not_matching_its_digest_is_rejected(state_root):
    with pytest.raises(ImportFailed, match="digest mismatch"):
        ImageStore().import_archive(io.BytesIO(oci_layout(LAYERS, corrupt_blob=True)), name="corrupt")
    assert ImageStore().list() == []


def test_docker_save_with_shared_layer_symlink_is_followed_inside_the_archive(state_root):
    layer = tar_bytes([E("shared", data=b"same")])
    with tarfile.open(fileobj=io.BytesIO(docker_save([layer, layer]))) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]
    first, second = [m.name for m, _ in members if m.name.endswith("/layer.tar")]
    rebuilt = [E(m.name, "symlink", link=f"../{first}") if m.name == second
               else E(m.name, data=d) if m.isfile() else E(m.name, "dir") for m, d in members]
    info = ImageStore().import_archive(io.BytesIO(tar_bytes(rebuilt)), name="shared")
    assert (Path(info.rootfs) / "shared").read_bytes() == b"same"
    assert len(info.layers) == 2


OWNED_ABOVE_RANGE = [E("srv", "dir"), E("srv/data", data=b"x", uid=70000, gid=70000), E("srv/later", data=b"y")]


@pytest.mark.parametrize("kind", ["flat", "docker-save", "oci-layout"])
def test_file_owned_above_65535_is_refused_and_leaves_nothing(state_root, kind):
    layers = [tar_bytes(LAYER1), tar_bytes(OWNED_ABOVE_RANGE)]
    data = {"flat": lambda: tar_bytes(OWNED_ABOVE_RANGE), "docker-save": lambda: docker_save(layers),
            "oci-layout": lambda: oci_layout(layers)}[kind]()
    with pytest.raises(ImportFailed, match=r"^entry 'srv/data': owned by 70000:70000, but a container's user "
                                           r"namespace maps ids 0-65535 only$"):
        ImageStore().import_archive(io.BytesIO(data), name="big-ids")
    assert ImageStore().list() == []
    assert os.listdir(state_root / "images") == [".lock"]


@pytest.mark.parametrize("kind", ["flat", "docker-save"])
def test_directories_the_archive_implies_are_0755_whatever_the_umask(state_root, kind):
    # Root's processes run with umask 077: an image whose `/` or /usr came out
    # 0700 would lock every non-root user of its containers out of them.
    entries = [E("usr/bin/tool", data=b"x", mode=0o755)]
    archive = tar_bytes(entries) if kind == "flat" else docker_save([tar_bytes(entries)])
    old = os.umask(0o077)
    try:
        info = ImageStore().import_archive(io.BytesIO(archive), name="implied")
    finally:
        os.umask(old)
    rootfs = Path(info.rootfs)
    assert [stat.S_IMODE(os.stat(rootfs / p).st_mode) for p in ("", "usr", "usr/bin")] == [0o755] * 3
