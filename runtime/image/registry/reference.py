"""Image references as Docker reads them: `debian:12` is
`docker.io/library/debian:12`, a first component with a dot or a colon (or
`localhost`) names a registry, `@sha256:<hex>` pins a digest."""

import re

from runtime.errors import InvalidArgument

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                     r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MAX_LENGTH = 255


class Reference:
    __slots__ = ("domain", "repository", "tag", "digest")

    def __init__(self, domain: str, repository: str, tag: str | None, digest: str | None):
        self.domain, self.repository, self.tag, self.digest = domain, repository, tag, digest

    @property
    def api_host(self) -> str:
        """Where the registry's API answers (Docker Hub's is not docker.io)."""
        return DOCKER_HUB_API if self.domain == DOCKER_HUB else self.domain

    @property
    def target(self) -> str:
        """What the manifest request names: the digest if pinned, else the tag."""
        return self.digest or self.tag

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.domain}/{self.repository}{tag}{digest}"

    def __repr__(self) -> str:
        return f"Reference({str(self)!r})"


def parse_reference(text) -> Reference:
    """The full form of an image reference; InvalidArgument naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgument("an image reference must be a non-empty string such as debian:12")
    text = text.strip()
    if len(text) > MAX_LENGTH:
        raise InvalidArgument(f"image reference is longer than {MAX_LENGTH} characters")
    rest, _, digest = text.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise InvalidArgument(f"image reference {text!r}: the digest must be sha256: and 64 lowercase hex digits")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        domain, path = first, remainder
        if not _DOMAIN.fullmatch(domain):
            raise InvalidArgument(f"image reference {text!r}: {domain!r} is not a registry host[:port]")
    else:
        domain, path = DOCKER_HUB, rest
    tag = None
    name, colon, maybe_tag = path.rpartition(":")
    if colon:
        path, tag = name, maybe_tag
        if not _TAG.fullmatch(tag):
            raise InvalidArgument(f"image reference {text!r}: {tag!r} is not a valid tag")
    if domain in _HUB_ALIASES:
        domain = DOCKER_HUB
        if "/" not in path:
            path = "library/" + path
    if not _REPOSITORY.fullmatch(path):
        raise InvalidArgument(
            f"image reference {text!r}: the repository {path!r} must be lowercase letters, digits and . _ - separated by /")
    if tag is None and not digest:
        tag = "latest"
    return Reference(domain, path, tag, digest or None)
