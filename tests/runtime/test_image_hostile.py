"""The hostile corpus: archives built to escape, explode or confuse the
importer. Each is refused with a one-line error naming the problem (or,
where the documented rule is to contain it, contained), and a sentinel
directory next to the store proves nothing outside the image was touched."""

import gzip
import io
import tarfile
import zlib
from pathlib import Path

import pytest

from runtime.errors import ImportFailed
from runtime.image.store import ImageStore, ImportLimits
from image_archives import E, docker_save, tar_bytes, tree


@pytest.fixture
def sentinel(tmp_path):
    path = tmp_path / "sentinel"
    path.mkdir()
    (path / "secret").write_bytes(b"host data")
    (path / "dir").mkdir()
    return path


def layered(*layers):
    return docker_save([tar_bytes(layer) for layer in layers])


def gzip_bomb() -> bytes:
    header = tarfile.TarInfo("zeros")
    header.size = 256 << 20
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(header.tobuf(tarfile.PAX_FORMAT))]
    zeros = bytes(1 << 20)
    parts += [packer.compress(zeros) for _ in range(256)]
    parts.append(packer.flush())
    return b"".join(parts)


def corrupt_checksum(data: bytes) -> bytes:
    second = 512 + 512  # the first entry is a 1-byte file: header + one data block
    return data[:second + 148] + b"0000000\x00" + data[second + 156:]


CASES = {
    "dotdot": (lambda s: tar_bytes([E("../../sentinel/pwned", data=b"x")]), r"entry '\.\./\.\./sentinel/pwned': '\.\.'"),
    "dotdot-inside": (lambda s: tar_bytes([E("a/../../x", data=b"x")]), r"'\.\.' is not allowed"),
    "absolute": (lambda s: tar_bytes([E(f"{s}/pwned", data=b"x")]), r"absolute paths are not allowed"),
    "symlink-then-write": (
        lambda s: tar_bytes([E("evil", "symlink", link=str(s)), E("evil/pwned", data=b"x")]),
        r"entry 'evil/pwned': its path goes through a symlink"),
    "relative-symlink-then-write": (
        lambda s: tar_bytes([E("a/evil", "symlink", link="../../../../../../" + str(s)), E("a/evil/dir/pwned", data=b"x")]),
        r"entry 'a/evil/dir/pwned': its path goes through a symlink"),
    "symlink-then-mkdir": (
        lambda s: tar_bytes([E("evil", "symlink", link=str(s)), E("evil/newdir", "dir")]),
        r"goes through a symlink"),
    "symlink-across-layers": (
        lambda s: layered([E("evil", "symlink", link=str(s))], [E("evil/pwned", data=b"x")]),
        r"entry 'evil/pwned': its path goes through a symlink"),
    "hardlink-dotdot": (lambda s: tar_bytes([E("hl", "hardlink", link="../sentinel/secret")]), r"hardlink target.*'\.\.'"),
    "hardlink-absolute": (lambda s: tar_bytes([E("hl", "hardlink", link=f"{s}/secret")]), r"hardlink target.*absolute"),
    "hardlink-through-symlink": (
        lambda s: tar_bytes([E("evil", "symlink", link=str(s)), E("hl", "hardlink", link="evil/secret")]),
        r"entry 'hl': its path goes through a symlink"),
    "hardlink-missing": (lambda s: tar_bytes([E("hl", "hardlink", link="nowhere/file")]), r"entry 'hl': hardlink target 'nowhere/file' does not exist"),
    "whiteout-dotdot": (lambda s: layered([E("x", data=b"x")], [E("../.wh.sentinel")]), r"'\.\.' is not allowed"),
    "whiteout-through-symlink": (
        lambda s: layered([E("evil", "symlink", link=str(s))], [E("evil/.wh.secret")]),
        r"entry 'evil/\.wh\.secret': its path goes through a symlink"),
    "opaque-through-symlink": (
        lambda s: layered([E("evil", "symlink", link=str(s))], [E("evil/.wh..wh..opq")]),
        r"goes through a symlink"),
    "whiteout-of-dot": (lambda s: layered([E("x", "dir")], [E("x/.wh..")]), r"entry 'x/\.wh\.\.': whiteout of '\.' is not allowed"),
    "gzip-bomb": (lambda s: gzip_bomb(), r"compression ratio exceeds 200:1"),
    "truncated-tar": (lambda s: tar_bytes([E("f", data=b"y" * 5000)])[:3000], r"archive is truncated"),
    "truncated-gzip": (lambda s: gzip.compress(tar_bytes([E("f", data=bytes(range(256)) * 64)]))[:200],
                       r"corrupt gzip data: the stream ends early|archive is truncated"),
    "corrupt-header": (lambda s: corrupt_checksum(tar_bytes([E("a", data=b"1"), E("b", data=b"2")])),
                       r"bad tar header checksum after entry 'a'"),
    "corrupt-gzip": (lambda s: (lambda g: g[:30] + bytes(b ^ 0x55 for b in g[30:60]) + g[60:])(
        gzip.compress(tar_bytes([E("f", data=bytes(range(256)) * 64)]))), r"corrupt gzip data"),
    "not-an-archive": (lambda s: b"#!/bin/sh\necho this is a script, not an archive\n" * 20,
                       r"not an archive: the input is not tar, gzip, xz, bzip2 or zstd"),
    "zero-bytes": (lambda s: b"", r"not an archive: the input is empty"),
    "empty-tar": (lambda s: tar_bytes([]), r"the archive is empty"),
    "sparse": (lambda s: tar_bytes([E("s", data=b"x", pax={"GNU.sparse.major": "1", "GNU.sparse.minor": "0"})]),
               r"entry 's': sparse files are not supported"),
    "negative-size": (lambda s: (lambda d: d[:124] + b"\xff" * 12 + d[136:])(tar_bytes([E("n", data=b"")], fmt=tarfile.GNU_FORMAT)),
                      r"bad tar header checksum|negative size"),
}


def assert_untouched(store_root, sentinel, before):
    assert tree(sentinel) == before
    assert ImageStore().list() == []
    assert sorted(p.name for p in (store_root / "images").iterdir()) == [".lock"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_archive_is_refused_and_touches_nothing(state_root, sentinel, case):
    build, message = CASES[case]
    before = tree(sentinel)
    with pytest.raises(ImportFailed, match=message) as failure:
        ImageStore().import_archive(io.BytesIO(build(sentinel)), name="hostile")
    assert "\n" not in str(failure.value)
    assert_untouched(state_root, sentinel, before)


def test_entry_bigger_than_the_size_limit_is_refused_before_it_is_written(state_root, sentinel):
    before = tree(sentinel)
    archive = tar_bytes([E("small", data=b"s" * 1000), E("huge", data=b"h" * (2 << 20))])
    with pytest.raises(ImportFailed, match=r"entry 'huge': unpacking it would exceed the 1048576 byte size limit"):
        ImageStore().import_archive(io.BytesIO(archive), name="big", limits=ImportLimits(max_bytes=1 << 20))
    assert_untouched(state_root, sentinel, before)


def test_existing_symlink_is_replaced_not_written_through(state_root, sentinel):
    before = tree(sentinel)
    archive = tar_bytes([E("link", "symlink", link=f"{sentinel}/secret"), E("link", data=b"replaced"),
                         E("dirlink", "symlink", link=f"{sentinel}/dir"), E("dirlink", "dir", mode=0o700)])
    info = ImageStore().import_archive(io.BytesIO(archive), name="replaced")
    assert (Path(info.rootfs) / "link").read_bytes() == b"replaced"
    assert not (Path(info.rootfs) / "link").is_symlink()
    assert (Path(info.rootfs) / "dirlink").is_dir() and not (Path(info.rootfs) / "dirlink").is_symlink()
    assert tree(sentinel) == before


def test_symlink_across_layers_is_replaced_by_a_later_file(state_root, sentinel):
    before = tree(sentinel)
    info = ImageStore().import_archive(
        io.BytesIO(layered([E("etc/passwd", "symlink", link=f"{sentinel}/secret")], [E("etc/passwd", data=b"root")])),
        name="relinked")
    assert (Path(info.rootfs) / "etc/passwd").read_bytes() == b"root"
    assert tree(sentinel) == before


def test_duplicate_entries_the_last_one_wins(state_root):
    archive = tar_bytes([E("a", data=b"first"), E("a", data=b"second"), E("d", data=b"file"), E("d", "dir"),
                         E("d/x", data=b"x"), E("e", "dir"), E("e/inner", data=b"i"), E("e", data=b"file now"),
                         E("f", "dir", mode=0o700), E("f", "dir", mode=0o750, uid=7)])
    info = ImageStore().import_archive(io.BytesIO(archive), name="dups")
    got = tree(info.rootfs)
    assert got[b"a"][4] == b"second"
    assert got[b"d"][0] == "dir" and got[b"d/x"][4] == b"x"
    assert got[b"e"][4] == b"file now" and b"e/inner" not in got
    assert got[b"f"] == ("dir", 7, 0, 0o750)
    assert info.file_count == len(got)
    assert info.size_bytes == len(b"second") + 1 + len(b"file now")


def test_device_nodes_are_skipped_and_counted(state_root):
    archive = tar_bytes([E("dev", "dir"), E("dev/null", "chr"), E("dev/sda", "blk"), E("dev/kmsg", "chr"),
                         E("etc/hostname", data=b"box")])
    info = ImageStore().import_archive(io.BytesIO(archive), name="devices")
    assert info.devices_skipped == 3
    assert sorted(tree(info.rootfs)) == [b"dev", b"etc", b"etc/hostname"]
