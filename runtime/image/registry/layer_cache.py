"""Verified layer blobs, kept as the registry sent them
(`<root>/images/.layers/<sha256 hex>`), so that the next image sharing a
layer unpacks it from here instead of fetching it again.

A pull writes each blob into its own scratch directory while it streams
through the extractor, and moves the blobs here only once the whole image
has unpacked and every digest matched: a failed pull leaves nothing. Blobs
no image lists any more are removed with the last image that listed them.
"""

import os

DIR = ".layers"


class LayerCache:
    def __init__(self, images_dir: str):
        self.path = f"{images_dir}/{DIR}"
        os.makedirs(self.path, mode=0o700, exist_ok=True)

    def open(self, digest: str) -> int | None:
        """A read fd on the cached blob of digest, or None."""
        try:
            return os.open(f"{self.path}/{digest.removeprefix('sha256:')}", os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None

    def adopt(self, scratch_fd: int, names: list[str]) -> None:
        """Move verified blobs (named by their hex digest) from a pull's scratch directory into the cache."""
        for name in names:
            os.rename(name, f"{self.path}/{name}", src_dir_fd=scratch_fd)

    def prune(self, keep) -> int:
        """Remove every blob whose digest is not in keep; the number removed."""
        kept = {d.removeprefix("sha256:") for d in keep}
        removed = 0
        for name in os.listdir(self.path):
            if name not in kept:
                try:
                    os.unlink(f"{self.path}/{name}")
                    removed += 1
                except FileNotFoundError:
                    pass
        return removed
