"""From an archive to a rootfs: a flat rootfs tar is extracted as it
streams; a docker save or OCI archive is spooled, then its layers are
applied in order and each one's digest is checked."""

import itertools
import os
from dataclasses import dataclass

from runtime.errors import ImportFailed
from runtime.image import archive, layers, tarstream
from runtime.image.extract import Extractor, Report
from runtime.image.import_limits import ImportLimits


@dataclass
class Unpacked:
    format: str
    compression: str
    sha256: str
    layers: list[str]
    defaults: dict
    report: Report


def _flat_defaults() -> dict:
    return {"env": [], "cmd": [], "entrypoint": [], "workdir": "", "user": ""}


def _apply_layer(extractor: Extractor, spool: layers.Spool, layer: layers.Layer, limits: ImportLimits) -> str:
    with os.fdopen(spool.open(layer.name), "rb") as blob:
        stream = archive.DecodedStream(blob, limits, hash_decoded=True)
        try:
            extractor.apply(tarstream.entries(stream), stream)
            raw, decoded = stream.finish()
        finally:
            stream.close()
    layers.verify(f"layer {layer.name}", "sha256:" + raw, layer.digest)
    layers.verify(f"layer {layer.name}", "sha256:" + decoded, layer.diff_id)
    return "sha256:" + raw


def unpack(src, rootfs_fd: int, spool_fd: int, limits: ImportLimits) -> Unpacked:
    """Fill the empty directory rootfs_fd from the archive src; spool_fd is scratch space."""
    stream = archive.DecodedStream(src, limits)
    compression = "none" if stream.compression == "tar" else stream.compression
    extractor = Extractor(rootfs_fd, limits)
    try:
        entries = tarstream.entries(stream)
        first = next(entries, None)
        if first is None:
            raise ImportFailed("the archive is empty")
        head = [first]
        # `tar -cf - -C dir .` puts the directory itself first: the entry after it tells the archive's kind.
        if first.kind == tarstream.DIR and tarstream.clean_path(first.name) == b"":
            head += itertools.islice(entries, 1)
        entries = itertools.chain(head, entries)
        if not layers.is_image_archive(head[-1].name):
            extractor.apply(layers.flat_entries(entries, head[-1].name), stream)
            sha256, _ = stream.finish()
            extractor.finish()
            return Unpacked("rootfs", compression, sha256, ["sha256:" + sha256], _flat_defaults(),
                            extractor.report)
        spool = layers.Spool(spool_fd)
        spool.fill(entries, stream, limits)
        sha256, _ = stream.finish()
        plan = layers.plan(spool)
        digests = [_apply_layer(extractor, spool, layer, limits) for layer in plan.layers]
        extractor.finish()
        return Unpacked(plan.format, compression, sha256, digests, plan.defaults, extractor.report)
    finally:
        extractor.close()
        stream.close()
