"""`images pull`: resolve a reference to one image manifest, fetch its
config, and stream each layer from the registry through the import's
decoder and extractor (no layer lands whole on disk first), its digest and
diff_id checked at its end. The image is built in the store's scratch
directory and committed only when every layer matched, so a failure
anywhere leaves nothing. Layers in the store's layer cache are unpacked
from there; the same name pulled again at the same digest is a no-op.
"""

import http.client
import json
import os

from runtime.errors import Conflict, ImportFailed, InvalidArgument, NotFound
from runtime.image import archive, tarstream
from runtime.image.extract import Extractor
from runtime.image.import_limits import ImportLimits
from runtime.image.layers import MAX_JSON, defaults_from_config, verify
from runtime.image.registry import manifests
from runtime.image.registry.layer_cache import LayerCache
from runtime.image.registry.reference import parse_reference
from runtime.image.registry.transport import Transport, reason
from runtime.image.unpack import Unpacked
from runtime.linux import syscalls

CHUNK = archive.CHUNK


def pull(store, reference: str, *, name: str | None = None, platform: str | None = None, credentials=None,
         insecure=None, progress=None, limits: ImportLimits | None = None):
    """Pull reference into store as image `name` (default: the reference as written); returns its ImageInfo.

    credentials: (user, password) for the registry or its token service;
    insecure: registries (host[:port]) that may be reached over plain HTTP
    besides the loopback (default: TERRARIUM_INSECURE_REGISTRIES);
    progress: called with {"layer", "index", "count", "done", "total", "status"}
    as each layer's bytes arrive (status "fetching", "cached" or "done").
    """
    ref = parse_reference(reference)
    if name is None:
        name = reference.strip()
        try:
            store.check_name(name)
        except InvalidArgument:
            raise InvalidArgument(f"{name!r} is too long or odd for an image name; choose a name (--name)") from None
    store.check_name(name)
    wanted = manifests.parse_platform(platform)
    plat = "/".join(filter(None, wanted))
    limits = ImportLimits() if limits is None else limits
    existing = _named(store, name)
    if existing is not None and ref.digest and _source(existing, "digest") == ref.digest and _source(
            existing, "platform") == plat:
        return existing
    transport = Transport(ref.api_host, ref.repository, credentials, insecure)
    try:
        top, doc = _manifest(transport, ref.target, ref.digest, str(ref))
        chosen = top
        if manifests.is_index(doc):
            entry = manifests.choose(doc, wanted, str(ref))
            chosen, doc = _manifest(transport, entry.digest, entry.digest, f"{ref} ({plat})")
            if manifests.is_index(doc):
                raise ImportFailed(f"{ref}: the {plat} entry of the index is another index")
        if existing is not None:
            if _source(existing, "manifest") == chosen:
                return existing
            raise Conflict(f"image {name!r} already exists"
                           + (f" at another digest ({_source(existing, 'manifest')})" if existing.source else "")
                           + "; remove it first or choose another --name")
        image = manifests.Image(doc, f"{ref} manifest {chosen}")
        config = _config(transport, image.config, str(ref))
        _check_platform(config, wanted, str(ref))
        diff_ids = _diff_ids(config, len(image.layers), str(ref))
        cache = LayerCache(store.images)
        source = {"reference": str(ref), "digest": top, "manifest": chosen, "platform": plat}
        fill = _Filler(transport, ref.repository, image, diff_ids, defaults_from_config(config), chosen, cache,
                       progress)
        info = store._import(None, name, limits, fill=fill, source=source)
    finally:
        transport.close()
    return info


def _named(store, name: str):
    return next((i for i in store.list() if i.name == name), None)


def _source(info, key: str):
    return info.source.get(key) if isinstance(info.source, dict) else None


def _manifest(transport: Transport, target: str, digest: str | None, what: str) -> tuple[str, dict]:
    resp = transport.get(f"/v2/{transport.repository}/manifests/{target}", {"Accept": manifests.ACCEPT},
                         what=f"{transport.repository}{'@' if target.startswith('sha256:') else ':'}{target}")
    data = transport.read_body(resp, manifests.MAX_MANIFEST + 1)
    actual = manifests.digest_of(data)
    announced = resp.getheader("Docker-Content-Digest")
    if digest is None and announced and announced.startswith("sha256:") and announced != actual:
        raise ImportFailed(f"{what}: digest mismatch (the registry announced {announced}, the manifest is {actual})")
    return actual, manifests.load(data, resp.getheader("Content-Type") or "", digest, f"{what} manifest")


def _config(transport: Transport, desc: manifests.Descriptor, what: str) -> dict:
    if desc.size > MAX_JSON:
        raise ImportFailed(f"{what}: the image config is larger than {MAX_JSON} bytes")
    resp = transport.get(f"/v2/{transport.repository}/blobs/{desc.digest}", what=f"config blob {desc.digest}")
    data = transport.read_body(resp, MAX_JSON + 1)
    verify(f"{what}: image config", manifests.digest_of(data), desc.digest)
    try:
        config = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ImportFailed(f"{what}: the image config is not valid JSON") from None
    if not isinstance(config, dict):
        raise ImportFailed(f"{what}: the image config is not a JSON object")
    return config


def _check_platform(config: dict, wanted: tuple[str, str, str], what: str) -> None:
    have = (config.get("os"), config.get("architecture"))
    if all(isinstance(v, str) and v for v in have) and have != wanted[:2]:
        raise NotFound(f"{what} is an image for {'/'.join(have)}, not {'/'.join(filter(None, wanted))}")


def _diff_ids(config: dict, count: int, what: str) -> list[str]:
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or len(ids) != count or not all(isinstance(i, str) for i in ids):
        raise ImportFailed(f"{what}: the image config's rootfs.diff_ids does not list the {count} layers")
    return ids


class _Filler:
    """Fills an image's rootfs from the registry; the store calls it inside its scratch directory."""

    def __init__(self, transport, repository, image, diff_ids, defaults, manifest_digest, cache, progress):
        self.transport, self.repository, self.image = transport, repository, image
        self.diff_ids, self.defaults, self.digest = diff_ids, defaults, manifest_digest
        self.cache, self.progress = cache, progress

    def _report(self, index: int, desc, done: int, status: str) -> None:
        if self.progress is not None:
            self.progress({"layer": desc.digest, "index": index + 1, "count": len(self.image.layers),
                           "done": done, "total": desc.size, "status": status})

    def __call__(self, rootfs_fd: int, spool_fd: int, limits: ImportLimits) -> Unpacked:
        extractor = Extractor(rootfs_fd, limits)
        fetched: list[str] = []
        compressions = []
        try:
            for index, (desc, diff_id) in enumerate(zip(self.image.layers, self.diff_ids)):
                what = f"layer {desc.digest}"
                hexname = desc.digest.removeprefix("sha256:")
                fd = (os.open(hexname, os.O_RDONLY | os.O_CLOEXEC, dir_fd=spool_fd) if hexname in fetched
                      else self.cache.open(desc.digest))
                if fd is not None:
                    self._report(index, desc, desc.size, "cached")
                    with os.fdopen(fd, "rb") as blob:
                        compressions.append(_apply(extractor, blob, limits, desc, diff_id, what))
                    continue
                resp = self.transport.get(f"/v2/{self.repository}/blobs/{desc.digest}", what=f"blob {desc.digest}")
                sink = os.open(hexname, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600, dir_fd=spool_fd)
                reader = _BlobReader(resp, desc, sink, lambda done, i=index, d=desc: self._report(i, d, done,
                                                                                                   "fetching"))
                try:
                    compressions.append(_apply(extractor, reader, limits, desc, diff_id, what))
                except BaseException:
                    # The response may be half read: its connection cannot carry another request.
                    self.transport.close()
                    raise
                finally:
                    os.close(sink)
                fetched.append(hexname)
                self._report(index, desc, desc.size, "done")
            extractor.finish()
        finally:
            extractor.close()
        self.cache.adopt(spool_fd, fetched)
        compression = compressions[0] if compressions else "none"
        return Unpacked("registry", compression, self.digest.removeprefix("sha256:"),
                        [d.digest for d in self.image.layers], self.defaults, extractor.report)


def _apply(extractor: Extractor, src, limits: ImportLimits, desc, diff_id: str, what: str) -> str:
    stream = archive.DecodedStream(src, limits, hash_decoded=True)
    try:
        extractor.apply(tarstream.entries(stream), stream)
        raw, decoded = stream.finish()
    finally:
        stream.close()
    verify(what, "sha256:" + raw, desc.digest)
    verify(what, "sha256:" + decoded, diff_id)
    return "none" if stream.compression == "tar" else stream.compression


class _BlobReader:
    """A blob's response body as the decoder reads it: fetched a chunk at a
    time (gzip asks for 8 KiB per read), each chunk copied to the scratch
    file, counted against the descriptor's size and reported; a connection
    that ends early or fails is an ImportFailed naming the layer."""

    def __init__(self, resp: http.client.HTTPResponse, desc, sink: int, report):
        self.resp, self.desc, self.sink, self.report = resp, desc, sink, report
        self.done = 0
        self.chunk, self.pos = memoryview(b""), 0

    def _fetch(self) -> None:
        try:
            # read, not read1: read1 hands over the socket buffer's 8 KiB at a time.
            data = self.resp.read(min(CHUNK, self.desc.size - self.done) or 1)
        except (OSError, http.client.HTTPException) as exc:
            raise ImportFailed(f"layer {self.desc.digest}: the download failed after {self.done} of "
                               f"{self.desc.size} bytes: {reason(exc)}") from None
        if not data:
            if self.done < self.desc.size:
                raise ImportFailed(f"layer {self.desc.digest}: the connection closed after {self.done} of "
                                   f"{self.desc.size} bytes")
            return
        self.done += len(data)
        if self.done > self.desc.size:
            raise ImportFailed(f"layer {self.desc.digest}: the registry sent more than the {self.desc.size} "
                               "bytes its descriptor says")
        syscalls.write_all(self.sink, data)
        self.chunk, self.pos = memoryview(data), 0
        self.report(self.done)

    def read(self, n: int = -1) -> bytes:
        if self.pos == len(self.chunk):
            self._fetch()
        n = len(self.chunk) - self.pos if n is None or n < 0 else n
        data = self.chunk[self.pos:self.pos + n].tobytes()
        self.pos += len(data)
        return data

    def readable(self) -> bool:
        return True
