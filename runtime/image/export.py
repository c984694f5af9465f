"""An image of the store as a `docker save` archive or an OCI image layout,
streamed as tar chunks.

Each layer of the image's chain (its base's rootfs first) becomes one
uncompressed layer tar (`layertar`). A tar entry's header gives its size
first: the layer tar is measured from the tree's metadata, then streamed
once. A docker archive hashes each layer as it streams and names the
digests (the config's diff_ids) in the config and manifest.json written
after the layers; an OCI layout names blobs by digest, so each layer is
hashed in a pass of its own before it is written. Nothing is copied to
disk on the way.
"""

import hashlib
import json
import os
import platform
import re
import tarfile

from runtime.errors import InvalidArgument, TerrariumError
from runtime.image import layertar
from runtime.linux import treeops

FORMATS = ("docker", "oci")
BLOCK = 512
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}
# A name docker and skopeo take as a reference (lower case, an optional tag).
_REFERENCE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?")


def export_image(store, ref: str, format: str = "docker"):
    """The archive of image ref, as an iterator of byte chunks; a bad
    format or an unknown image is refused here, before any byte."""
    if format not in FORMATS:
        raise InvalidArgument(f"unknown export format {format!r}: use docker or oci")
    info = store.get(ref)
    return _chunks(info, [layer.rootfs for layer in reversed(store.chain(info))], format)


def _chunks(info, rootfs: list[str], format: str):
    fds = []
    try:
        for path in rootfs:
            fds.append(os.open(path, treeops.DIR_FLAGS))
        yield from (_docker if format == "docker" else _oci)(info, fds)
    finally:
        for fd in fds:
            os.close(fd)


def _header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    entry = tarfile.TarInfo(name)
    entry.type = kind
    entry.size = size
    entry.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    entry.uname = entry.gname = ""
    return entry.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _file(name: str, data: bytes):
    yield _header(name, len(data))
    yield data
    yield bytes(-len(data) % BLOCK)


def _layer(name: str, fd: int, digests: list[str]):
    """The layer tar of fd as the entry name; its sha256 appended to digests."""
    size = layertar.measure(fd)
    yield _header(name, size)
    h, written = hashlib.sha256(), 0
    for chunk in layertar.entries(fd):
        h.update(chunk)
        written += len(chunk)
        yield chunk
    if written != size:
        raise TerrariumError(f"image layer {name} changed while it was exported")
    yield bytes(-size % BLOCK)
    digests.append("sha256:" + h.hexdigest())


def _config(info, diff_ids: list[str]) -> bytes:
    defaults = info.defaults or {}
    inner = {
        "Env": defaults.get("env") or [],
        "Cmd": defaults.get("cmd") or None,
        "Entrypoint": defaults.get("entrypoint") or None,
        "WorkingDir": defaults.get("workdir") or "",
        "User": defaults.get("user") or "",
    }
    config = {
        "created": info.created_at,
        "architecture": _ARCH.get(platform.machine(), platform.machine()),
        "os": "linux",
        "config": {key: value for key, value in inner.items() if value is not None},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    return json.dumps(config, separators=(",", ":")).encode()


def _tagged(name: str) -> str | None:
    if _REFERENCE.fullmatch(name) is None:
        return None
    return name if ":" in name.rpartition("/")[2] else f"{name}:latest"


def _docker(info, fds: list[int]):
    diff_ids, paths = [], []
    for index, fd in enumerate(fds):
        # As docker save's v1 layer ids: 64 hex digits, here from the image id and the layer's place.
        path = hashlib.sha256(f"{info.id}:{index}".encode()).hexdigest() + "/layer.tar"
        paths.append(path)
        yield from _layer(path, fd, diff_ids)
    config = _config(info, diff_ids)
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    yield from _file(config_name, config)
    tag = _tagged(info.name)
    manifest = [{"Config": config_name, "RepoTags": [tag] if tag else None, "Layers": paths}]
    yield from _file("manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
    yield bytes(2 * BLOCK)


def _descriptor(media_type: str, digest: str, size: int) -> dict:
    return {"mediaType": media_type, "digest": digest, "size": size}


def _oci(info, fds: list[int]):
    yield from _file("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    yield _header("blobs/", 0, tarfile.DIRTYPE)
    yield _header("blobs/sha256/", 0, tarfile.DIRTYPE)
    layers, written = [], set()
    for fd in fds:
        digest, size = layertar.digest(fd)
        layers.append(_descriptor(LAYER_TYPE, f"sha256:{digest}", size))
        if digest in written:
            continue
        written.add(digest)
        check = []
        yield from _layer(f"blobs/sha256/{digest}", fd, check)
        if check != [f"sha256:{digest}"]:
            raise TerrariumError(f"image layer {digest} changed while it was exported")
    config = _config(info, [layer["digest"] for layer in layers])
    config_digest = hashlib.sha256(config).hexdigest()
    yield from _file(f"blobs/sha256/{config_digest}", config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": _descriptor(CONFIG_TYPE, f"sha256:{config_digest}", len(config)), "layers": layers,
    }, separators=(",", ":")).encode()
    manifest_digest = hashlib.sha256(manifest).hexdigest()
    yield from _file(f"blobs/sha256/{manifest_digest}", manifest)
    tagged = _tagged(info.name)
    tag = tagged.rpartition(":")[2] if tagged else "latest"
    index = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [{
        **_descriptor(MANIFEST_TYPE, f"sha256:{manifest_digest}", len(manifest)),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    yield from _file("index.json", json.dumps(index, separators=(",", ":")).encode())
    yield bytes(2 * BLOCK)
