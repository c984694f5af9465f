"""Manifests as registries serve them: Docker v2 schema 2 and OCI image
manifests, Docker manifest lists and OCI indexes (one image per platform).
Every document is checked against the digest that named it."""

import hashlib
import json
import platform as host_platform
import re

from runtime.errors import ImportFailed, InvalidArgument, NotFound

MAX_MANIFEST = 4 << 20
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEXES = (DOCKER_LIST, OCI_INDEX)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
# Layer blobs are tars, plain or compressed (archive.detect reads which from the bytes).
_LAYER_TYPE = re.compile(r"application/vnd\.(oci\.image\.layer\.v1\.tar|docker\.image\.rootfs\.diff\.tar)"
                         r"(\+gzip|\.gzip|\+zstd)?")
_FOREIGN = re.compile(r".*(foreign|nondistributable).*")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def host() -> str:
    machine = host_platform.machine()
    return f"linux/{_ARCH.get(machine, machine)}"


def parse_platform(text: str | None) -> tuple[str, str, str]:
    """(os, architecture, variant) of `os/arch[/variant]`; the host's when None."""
    text = host() if text is None else text
    parts = text.split("/") if isinstance(text, str) else []
    if len(parts) not in (2, 3) or not all(re.fullmatch(r"[a-z0-9_.-]+", p) for p in parts):
        raise InvalidArgument(f"platform {text!r} is not os/arch[/variant], such as linux/amd64")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


class Descriptor:
    __slots__ = ("media_type", "digest", "size")

    def __init__(self, raw, what: str):
        if not isinstance(raw, dict):
            raise ImportFailed(f"{what} is not a descriptor")
        self.media_type, self.digest, self.size = raw.get("mediaType", ""), raw.get("digest"), raw.get("size")
        if not isinstance(self.digest, str) or not _DIGEST.fullmatch(self.digest):
            raise ImportFailed(f"{what} has no sha256 digest (only sha256 is supported)")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ImportFailed(f"{what} has no valid size")


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def load(data: bytes, media_type: str, digest: str | None, what: str) -> dict:
    """A manifest or index document, checked against its digest (when one named it)."""
    if len(data) > MAX_MANIFEST:
        raise ImportFailed(f"{what} is larger than {MAX_MANIFEST} bytes")
    if digest is not None and digest_of(data) != digest:
        raise ImportFailed(f"{what}: digest mismatch (expected {digest}, got {digest_of(data)})")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ImportFailed(f"{what} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise ImportFailed(f"{what} is not a JSON object")
    if doc.get("schemaVersion") == 1:
        raise ImportFailed(f"{what} is a Docker schema 1 manifest, which is no longer supported")
    # OCI documents may leave mediaType out; the response's Content-Type then says which it is.
    media_type = media_type.split(";")[0].strip()
    if media_type in (*INDEXES, DOCKER_MANIFEST, OCI_MANIFEST):
        doc.setdefault("mediaType", media_type)
    return doc


def is_index(doc: dict) -> bool:
    return doc.get("mediaType") in INDEXES or ("manifests" in doc and "layers" not in doc)


def choose(index: dict, wanted: tuple[str, str, str], what: str) -> Descriptor:
    """The index entry for the wanted platform (a missing variant matches any)."""
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise ImportFailed(f"{what}: the index lists no manifests")
    os_name, arch, variant = wanted
    offered = []
    for entry in entries:
        plat = entry.get("platform") if isinstance(entry, dict) else None
        if not isinstance(plat, dict):
            continue
        offered.append("/".join(filter(None, (plat.get("os"), plat.get("architecture"), plat.get("variant")))))
        if plat.get("os") == os_name and plat.get("architecture") == arch and (
                not variant or plat.get("variant") == variant):
            return Descriptor(entry, f"{what}: the {offered[-1]} entry")
    want = "/".join(filter(None, wanted))
    raise NotFound(f"{what} has no image for {want} (it offers {', '.join(offered) or 'no platform'})")


class Image:
    """An image manifest's config and layer descriptors."""

    def __init__(self, doc: dict, what: str):
        if doc.get("mediaType") not in (DOCKER_MANIFEST, OCI_MANIFEST, None, ""):
            raise ImportFailed(f"{what} has media type {doc.get('mediaType')!r}, not an image manifest")
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise ImportFailed(f"{what} lists no layers")
        self.config = Descriptor(doc.get("config"), f"{what}: config")
        self.layers = [Descriptor(raw, f"{what}: layer {i + 1}") for i, raw in enumerate(layers)]
        for i, layer in enumerate(self.layers):
            if _FOREIGN.fullmatch(layer.media_type):
                raise ImportFailed(f"{what}: layer {i + 1} is a non-distributable layer, which is not supported")
            if layer.media_type and not _LAYER_TYPE.fullmatch(layer.media_type):
                raise ImportFailed(f"{what}: layer {i + 1} has media type {layer.media_type!r}, not a tar layer")
