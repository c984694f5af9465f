"""Archives that look like a `docker save` or an OCI layout (a manifest.json,
index.json or oci-layout at their top) are read as one, or refused with an
error naming what is wrong, never imported as a flat root filesystem that
holds manifest.json and the layer tarballs."""

import gzip
import io
import json
import os
import tarfile

import pytest

from image_archives import E, docker_save, oci_layout, sha, tar_bytes, tree
from runtime.errors import ImportFailed
from runtime.image.store import ImageStore

LAYER = tar_bytes([E("etc", "dir"), E("etc/motd", data=b"from the layer\n")])


def packed_from_its_directory(archive: bytes, drop=None) -> bytes:
    """The archive as `tar -cf - -C dir .` packs it: `./` first, every name under `./`; drop: names left out."""
    entries = [E("./", "dir")]
    with tarfile.open(fileobj=io.BytesIO(archive)) as src:
        for member in src.getmembers():
            if drop and member.name in drop:
                continue
            data = src.extractfile(member).read() if member.isfile() else b""
            entries.append((member.replace(name="./" + member.name), data))
    return tar_bytes(entries)


def assert_nothing_imported(store):
    assert store.list() == []
    assert os.listdir(store.images) == [".lock"]


@pytest.mark.parametrize("build, fmt", [(lambda: docker_save([LAYER]), "docker-save"),
                                        (lambda: oci_layout([LAYER]), "oci-layout")], ids=["docker-save", "oci"])
def test_archive_packed_from_its_directory_is_imported_as_layers(state_root, build, fmt):
    info = ImageStore().import_archive(io.BytesIO(packed_from_its_directory(build())), name="packed")

    assert info.format == fmt
    assert tree(info.rootfs)[b"etc/motd"][-1] == b"from the layer\n"
    assert b"manifest.json" not in tree(info.rootfs) and b"index.json" not in tree(info.rootfs)


def test_missing_blob_is_refused_naming_it(state_root):
    blob = "blobs/sha256/" + sha(gzip.compress(LAYER, mtime=0))[7:]
    archive = packed_from_its_directory(oci_layout([LAYER]), drop={blob})
    store = ImageStore()

    with pytest.raises(ImportFailed, match=f"the archive names '{blob}' but does not contain it"):
        store.import_archive(io.BytesIO(archive), name="missing")

    assert_nothing_imported(store)


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/shadow", "a/../../outside.tar"])
def test_layer_path_outside_the_archive_is_refused_naming_it(state_root, path):
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [sha(LAYER)]}}).encode()
    config_name = sha(config)[7:] + ".json"
    archive = tar_bytes([E("manifest.json", data=json.dumps([{"Config": config_name, "Layers": [path]}]).encode()),
                         E(config_name, data=config)])
    store = ImageStore()

    with pytest.raises(ImportFailed, match=f"manifest.json: the layer path '{path}' is outside the archive"):
        store.import_archive(io.BytesIO(archive), name="outside")

    assert_nothing_imported(store)


@pytest.mark.parametrize("top", ["manifest.json", "index.json", "oci-layout", "./manifest.json"])
def test_image_file_at_the_top_after_other_entries_is_refused(state_root, top):
    archive = tar_bytes([E("etc", "dir"), E("etc/motd", data=b"x"), E(top, data=b"[]"),
                         E("0" * 64 + "/layer.tar", data=LAYER)])
    store = ImageStore()

    with pytest.raises(ImportFailed, match=f"the archive has '{top}' at its top, as a docker save or OCI layout has, "
                                           "but its entry 'etc/' is not part of one"):
        store.import_archive(io.BytesIO(archive), name="confused")

    assert_nothing_imported(store)

