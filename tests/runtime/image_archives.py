"""Builders for the archives the image tests import: tar layers with any
entry (hostile ones included), docker save and OCI image-layout archives,
and a snapshot of a directory tree to compare results against."""

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

MTIME = 1_700_000_000


def E(name, kind="file", data=b"", mode=None, uid=0, gid=0, link="", mtime=MTIME, pax=None):
    """One tar entry: kind is file, dir, symlink, hardlink, fifo, chr or blk."""
    types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE}
    if isinstance(name, bytes):
        name = name.decode("utf-8", "surrogateescape")
    info = tarfile.TarInfo(name)
    info.type = types[kind]
    info.mode = mode if mode is not None else (0o755 if kind == "dir" else 0o644)
    info.uid, info.gid, info.mtime, info.linkname = uid, gid, mtime, link
    info.size = len(data) if kind == "file" else 0
    if kind in ("chr", "blk"):
        info.devmajor, info.devminor = 1, 3
    if pax:
        info.pax_headers = pax
    return info, data


def tar_bytes(entries, fmt=tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


IMAGE_CONFIG = {"Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "Cmd": ["sh", "-c", "echo hi"],
                "Entrypoint": ["/bin/tini", "--"], "WorkingDir": "/srv", "User": "1000:1000"}


def _config(layers: list[bytes], config=None) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "config": config or IMAGE_CONFIG,
                       "rootfs": {"type": "layers", "diff_ids": [sha(layer) for layer in layers]}}).encode()


def docker_save(layers: list[bytes], *, newer=False, config=None, tamper_layer=None) -> bytes:
    """A `docker save` archive: legacy `<id>/layer.tar` dirs, or (newer) blobs/ plus oci-layout and index.json."""
    config_bytes = _config(layers, config)
    entries, names = [], []
    if newer:
        entries.append(E("blobs", "dir"))
        entries.append(E("blobs/sha256", "dir"))
        for layer in layers:
            name = "blobs/sha256/" + sha(layer)[7:]
            entries.append(E(name, data=layer))
            names.append(name)
        config_name = "blobs/sha256/" + sha(config_bytes)[7:]
        entries.append(E(config_name, data=config_bytes))
        manifest = json.dumps({"schemaVersion": 2, "config": {"digest": sha(config_bytes)}}).encode()
        entries.append(E("blobs/sha256/" + sha(manifest)[7:], data=manifest))
        entries.append(E("index.json", data=json.dumps(
            {"schemaVersion": 2, "manifests": [{"digest": sha(manifest), "size": len(manifest)}]}).encode()))
        entries.append(E("oci-layout", data=b'{"imageLayoutVersion": "1.0.0"}'))
    else:
        for i, layer in enumerate(layers):
            layer_id = hashlib.sha256(b"layer%d" % i).hexdigest()
            entries.append(E(layer_id, "dir"))
            entries.append(E(f"{layer_id}/VERSION", data=b"1.0"))
            data = tamper_layer if tamper_layer is not None and i == len(layers) - 1 else layer
            entries.append(E(f"{layer_id}/layer.tar", data=data))
            names.append(f"{layer_id}/layer.tar")
        config_name = sha(config_bytes)[7:] + ".json"
        entries.append(E(config_name, data=config_bytes))
    entries.append(E("manifest.json", data=json.dumps(
        [{"Config": config_name, "RepoTags": ["test:latest"], "Layers": names}]).encode()))
    return tar_bytes(entries)


def oci_layout(layers: list[bytes], *, config=None, corrupt_blob=False) -> bytes:
    """An OCI image-layout archive with gzip layers behind an index -> manifest -> config chain.

    corrupt_blob: the first layer blob holds other (valid gzip) bytes than its digest says."""
    config_bytes = _config(layers, config)
    blobs, descs = {}, []
    for layer in layers:
        packed = gzip.compress(layer, mtime=0)
        blobs[sha(packed)] = packed
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": sha(packed), "size": len(packed)})
    if corrupt_blob:
        del descs[0]["size"]
    blobs[sha(config_bytes)] = config_bytes
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha(config_bytes), "size": len(config_bytes)},
                           "layers": descs}).encode()
    blobs[sha(manifest)] = manifest
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
         "size": len(manifest), "platform": {"os": "linux", "architecture": "amd64"}}]}
    entries = [E("oci-layout", data=b'{"imageLayoutVersion": "1.0.0"}'),
               E("index.json", data=json.dumps(index).encode()), E("blobs", "dir"), E("blobs/sha256", "dir")]
    for digest, data in blobs.items():
        if corrupt_blob and digest == descs[0]["digest"]:
            data = gzip.compress(tar_bytes([E("swapped", data=b"not the layer the manifest names")]))
        entries.append(E("blobs/sha256/" + digest[7:], data=data))
    return tar_bytes(entries)


def tree(root) -> dict:
    """{relative path: description} of everything under root, contents included."""
    root = Path(root)
    result = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(base) / name
            st = path.lstat()
            rel = os.fsencode(path.relative_to(root))
            owner = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
            if stat.S_ISDIR(st.st_mode):
                result[rel] = ("dir", *owner)
            elif stat.S_ISLNK(st.st_mode):
                result[rel] = ("symlink", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                result[rel] = ("file", *owner, path.read_bytes())
            else:
                result[rel] = (stat.S_IFMT(st.st_mode), *owner)
    return result
