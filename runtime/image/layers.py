"""Layered image archives: `docker save` (manifest.json, with or without
oci-layout/index.json) and OCI image layouts (index.json, blobs/sha256).

The outer archive is spooled to disk under names of our own (its entries
may come in any order), then read as a plan: the layer blobs in order,
the digests they must have, and the launch defaults from the image config.
"""

import hashlib
import json
import os
import platform
import re
from dataclasses import dataclass, field

from runtime.errors import ImportFailed
from runtime.image.import_limits import ImportLimits
from runtime.image.tarstream import DIR, LNK, REG, SYM, clean_path, show

MAX_JSON = 4 << 20
_MARKERS = re.compile(
    rb"(manifest\.json|repositories|index\.json|oci-layout"
    rb"|blobs(/sha(256|512)(/[0-9a-f]{32,128})?)?"
    rb"|[0-9a-f]{64}(\.json|/(VERSION|json|layer\.tar))?)"
)
_BLOB = re.compile(r"blobs/sha256/([0-9a-f]{64})")
_CONFIG_NAME = re.compile(r"([0-9a-f]{64})\.json")
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json")
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


_TOP_FILES = (b"manifest.json", b"index.json", b"oci-layout")


def flat_entries(entries, first_name: bytes):
    """A flat rootfs's entries. A top-level manifest.json, index.json or
    oci-layout file means the archive is a docker save or OCI layout that
    is malformed (its first entry is not one of theirs): refused, not
    imported as a rootfs holding the layer tarballs."""
    for entry in entries:
        if entry.kind == REG and entry.name.endswith(_TOP_FILES) and clean_path(entry.name) in _TOP_FILES:
            raise ImportFailed(f"the archive has {show(entry.name)} at its top, as a docker save or OCI layout has, "
                               f"but its entry {show(first_name)} is not part of one")
        yield entry


def is_image_archive(first_name: bytes) -> bool:
    """Whether an archive whose first entry is first_name is docker save / OCI rather than a rootfs."""
    return _MARKERS.fullmatch(clean_path(first_name)) is not None


@dataclass
class Layer:
    name: str
    digest: str | None
    diff_id: str | None


@dataclass
class Plan:
    format: str
    layers: list[Layer]
    defaults: dict = field(default_factory=dict)


class Spool:
    """The outer archive's files, kept under numbered names in a private directory."""

    def __init__(self, dir_fd: int):
        self.dir_fd = dir_fd
        self.files: dict[str, str] = {}
        self.links: dict[str, str] = {}

    def fill(self, entries, stream, limits: ImportLimits) -> None:
        total = 0
        for entry in entries:
            rel = clean_path(entry.name)
            if not rel and entry.kind == DIR:
                continue
            if _MARKERS.fullmatch(rel) is None:
                raise ImportFailed(f"entry {show(entry.name)}: unexpected in a docker save or OCI archive")
            name = rel.decode()
            if entry.kind == REG:
                total += entry.size
                if total > limits.max_bytes:
                    raise ImportFailed(f"entry {show(entry.name)}: the archive exceeds the {limits.max_bytes} byte limit")
                spooled = str(len(self.files))
                fd = os.open(spooled, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600, dir_fd=self.dir_fd)
                try:
                    stream.pour(entry.size, fd)
                finally:
                    os.close(fd)
                self.files[name] = spooled
                self.links.pop(name, None)
            elif entry.kind in (SYM, LNK):
                # docker save links identical layers to one copy: `<id>/layer.tar -> ../<other>/layer.tar`.
                base = os.path.dirname(name) if entry.kind == SYM else ""
                target = os.path.normpath(os.path.join(base, os.fsdecode(entry.linkname)))
                self.links[name] = target
                self.files.pop(name, None)
            elif entry.kind != DIR:
                raise ImportFailed(f"entry {show(entry.name)}: unexpected in a docker save or OCI archive")

    def _resolve(self, name: str) -> str:
        for _ in range(8):
            if name in self.files:
                return self.files[name]
            if name not in self.links:
                break
            name = self.links[name]
        raise ImportFailed(f"the archive names {name!r} but does not contain it")

    def has(self, name: str) -> bool:
        return name in self.files or name in self.links

    def open(self, name: str) -> int:
        return os.open(self._resolve(name), os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.dir_fd)

    def size(self, name: str) -> int:
        return os.stat(self._resolve(name), dir_fd=self.dir_fd).st_size

    def read_json(self, name: str, digest: str | None = None):
        fd = self.open(name)
        with os.fdopen(fd, "rb") as f:
            data = f.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise ImportFailed(f"{name} is larger than {MAX_JSON} bytes")
        if digest is not None:
            verify(name, "sha256:" + hashlib.sha256(data).hexdigest(), digest)
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise ImportFailed(f"{name} is not valid JSON") from None


def verify(what: str, actual: str, expected: str | None) -> None:
    if expected is not None and actual != expected:
        raise ImportFailed(f"{what}: digest mismatch (expected {expected}, got {actual})")


def _blob_digest(name: str) -> str | None:
    m = _BLOB.fullmatch(name)
    return f"sha256:{m.group(1)}" if m else None


def _blob_name(descriptor, what: str) -> tuple[str, str]:
    digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
    if not isinstance(digest, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise ImportFailed(f"{what} has no valid sha256 digest")
    return "blobs/sha256/" + digest[7:], digest


def _check_size(spool: Spool, name: str, descriptor: dict) -> None:
    size = descriptor.get("size")
    if isinstance(size, int) and spool.size(name) != size:
        raise ImportFailed(f"{name}: size {spool.size(name)} does not match the descriptor's {size}")


def _strings(value, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ImportFailed(f"image config: {what} must be a list of strings")
    return value


def _string(value, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ImportFailed(f"image config: {what} must be a string")
    return value


def defaults_from_config(config) -> dict:
    """The launch defaults an image config (OCI or docker) carries."""
    inner = config.get("config") if isinstance(config, dict) else None
    inner = inner if isinstance(inner, dict) else {}
    return {
        "env": _strings(inner.get("Env"), "Env"),
        "cmd": _strings(inner.get("Cmd"), "Cmd"),
        "entrypoint": _strings(inner.get("Entrypoint"), "Entrypoint"),
        "workdir": _string(inner.get("WorkingDir"), "WorkingDir"),
        "user": _string(inner.get("User"), "User"),
    }


def _diff_ids(config, count: int) -> list[str | None]:
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if ids is None:
        return [None] * count
    if not isinstance(ids, list) or len(ids) != count or not all(isinstance(i, str) for i in ids):
        raise ImportFailed(f"image config: rootfs.diff_ids does not list the {count} layers")
    return ids


def _inside(name: str, what: str) -> str:
    path = os.path.normpath(name)
    if os.path.isabs(path) or path == ".." or path.startswith("../"):
        raise ImportFailed(f"manifest.json: the {what} path {name!r} is outside the archive")
    return path


def _docker_save(spool: Spool) -> Plan:
    manifest = spool.read_json("manifest.json")
    if not isinstance(manifest, list) or len(manifest) != 1 or not isinstance(manifest[0], dict):
        count = len(manifest) if isinstance(manifest, list) else 0
        raise ImportFailed(f"manifest.json must describe exactly one image (it has {count})")
    config_name, layer_names = manifest[0].get("Config"), manifest[0].get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list) or not all(
            isinstance(n, str) for n in layer_names):
        raise ImportFailed("manifest.json: Config and Layers are missing or malformed")
    config_name = _inside(config_name, "config")
    named = _CONFIG_NAME.fullmatch(config_name)
    config = spool.read_json(config_name, _blob_digest(config_name) or (f"sha256:{named.group(1)}" if named else None))
    layer_names = [_inside(n, "layer") for n in layer_names]
    layers = [Layer(n, _blob_digest(n), d) for n, d in zip(layer_names, _diff_ids(config, len(layer_names)))]
    return Plan("docker-save", layers, defaults_from_config(config))


def _pick_manifest(spool: Spool, index, depth: int = 0) -> dict:
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests or depth > 4:
        raise ImportFailed("index.json lists no image manifest")
    arch = _ARCH.get(platform.machine(), platform.machine())
    for_us = [m for m in manifests if isinstance(m, dict) and (
        not isinstance(m.get("platform"), dict)
        or (m["platform"].get("os") in (None, "linux") and m["platform"].get("architecture") in (None, arch)))]
    if not for_us:
        raise ImportFailed(f"the archive has no image for linux/{arch}")
    chosen = for_us[0]
    name, digest = _blob_name(chosen, "index.json manifest")
    _check_size(spool, name, chosen)
    if chosen.get("mediaType") in _INDEX_TYPES:
        return _pick_manifest(spool, spool.read_json(name, digest), depth + 1)
    manifest = spool.read_json(name, digest)
    if not isinstance(manifest, dict) or manifest.get("mediaType") in _INDEX_TYPES or "manifests" in manifest:
        return _pick_manifest(spool, manifest, depth + 1)
    return manifest


def _oci_layout(spool: Spool) -> Plan:
    layout = spool.read_json("oci-layout")
    if not isinstance(layout, dict) or "imageLayoutVersion" not in layout:
        raise ImportFailed("oci-layout has no imageLayoutVersion")
    manifest = _pick_manifest(spool, spool.read_json("index.json"))
    config_desc, layer_descs = manifest.get("config"), manifest.get("layers")
    if not isinstance(layer_descs, list):
        raise ImportFailed("image manifest: layers is missing")
    config_name, config_digest = _blob_name(config_desc, "image manifest config")
    config = spool.read_json(config_name, config_digest)
    layers = []
    for desc, diff_id in zip(layer_descs, _diff_ids(config, len(layer_descs))):
        name, digest = _blob_name(desc, "image manifest layer")
        _check_size(spool, name, desc)
        layers.append(Layer(name, digest, diff_id))
    return Plan("oci-layout", layers, defaults_from_config(config))


def plan(spool: Spool) -> Plan:
    """How to build the rootfs from a spooled docker save or OCI archive."""
    if spool.has("manifest.json"):
        return _docker_save(spool)
    if spool.has("index.json"):
        return _oci_layout(spool)
    raise ImportFailed("the archive looks like docker save or OCI but has neither manifest.json nor index.json")
