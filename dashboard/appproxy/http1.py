"""Just enough HTTP/1.1 for the app proxy, on asyncio streams: heads read
whole (at most HEAD_LIMIT bytes, within a timeout) and parsed strictly,
bodies copied as they come. Anything ambiguous (bare LF, folded headers,
two lengths, a transfer coding other than chunked) is refused, so the
proxy and the app never disagree on where a request ends."""

import asyncio
import re

HEAD_LIMIT = 64 * 1024
COPY_BYTES = 64 * 1024
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_REQUEST_LINE = re.compile(r"([A-Z]{1,20}) (/[\x21-\x7e]*) HTTP/1\.([01])")
_STATUS_LINE = re.compile(r"HTTP/1\.[01] ([1-9][0-9]{2})(?: [\t\x20-\x7e\x80-\xff]*)?")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,15})(;[^\r\n]*)?\r\n")
# Headers that describe one hop, not the message: never passed on.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "proxy-authorization",
              "proxy-authenticate"}


class BadMessage(Exception):
    """A head or body the proxy will not pass on."""


class Head:
    def __init__(self, start: str, headers: list[tuple[str, str]]):
        self.start = start
        self.headers = headers

    def get_all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def tokens(self, name: str) -> set[str]:
        """The comma-separated, case-folded tokens of every `name` header."""
        return {t.strip().lower() for v in self.get_all(name) for t in v.split(",") if t.strip()}

    def encode(self) -> bytes:
        lines = [self.start, *(f"{n}: {v}" for n, v in self.headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def read_head(reader: asyncio.StreamReader, timeout: float, lenient: bool = False) -> Head | None:
    """The next head, or None at a clean EOF before its first byte. Requests'
    lines end in CRLF; `lenient` (the app's responses) also takes a bare LF,
    as CGI scripts write them and as RFC 9112 lets a recipient accept."""
    try:
        lines = await asyncio.wait_for(_head_lines(reader, lenient), timeout)
    except TimeoutError:
        raise BadMessage("the head is too slow") from None
    if lines is None:
        return None
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name) or "\r" in value or "\0" in value:
            raise BadMessage("a malformed header line")
        headers.append((name, value.strip(" \t")))
    if "\r" in lines[0]:
        raise BadMessage("a malformed start line")
    return Head(lines[0], headers)


async def _head_lines(reader, lenient: bool) -> list[str] | None:
    lines, size = [], 0
    while True:
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial and not lines:
                return None
            raise BadMessage("the head ends early") from None
        except asyncio.LimitOverrunError:
            raise BadMessage("the head is too large") from None
        size += len(raw)
        if size > HEAD_LIMIT:
            raise BadMessage("the head is too large")
        if raw.endswith(b"\r\n"):
            raw = raw[:-2]
        elif lenient:
            raw = raw[:-1]
        else:
            raise BadMessage("a line not ended by CRLF")
        if not raw:
            if not lines:
                raise BadMessage("an empty start line")
            return lines
        lines.append(raw.decode("latin-1"))


def request_line(head: Head) -> tuple[str, str]:
    """(method, target) of a request head in origin form; BadMessage otherwise."""
    match = _REQUEST_LINE.fullmatch(head.start)
    if match is None:
        raise BadMessage("not an HTTP/1.x request in origin form")
    return match[1], match[2]


def status_code(head: Head) -> int:
    match = _STATUS_LINE.fullmatch(head.start)
    if match is None:
        raise BadMessage("not an HTTP/1.x status line")
    return int(match[1])


def body_framing(head: Head) -> tuple[str, int]:
    """How a request's body ends: ("chunked", 0) or ("length", n)."""
    codings = head.get_all("transfer-encoding")
    lengths = {v.strip() for v in head.get_all("content-length")}
    if codings:
        if lengths or [c.strip().lower() for c in codings] != ["chunked"]:
            raise BadMessage("a transfer coding other than chunked alone")
        return "chunked", 0
    if not lengths:
        return "length", 0
    if len(lengths) != 1 or not next(iter(lengths)).isdigit() or len(next(iter(lengths))) > 18:
        raise BadMessage("a bad Content-Length")
    return "length", int(next(iter(lengths)))


async def copy_exact(reader, writer, count: int) -> None:
    while count:
        data = await reader.read(min(COPY_BYTES, count))
        if not data:
            raise BadMessage("the body ends early")
        writer.write(data)
        await writer.drain()
        count -= len(data)


async def copy_chunked(reader, writer) -> None:
    """One chunked body, as it is, up to its last chunk and trailers."""
    try:
        while True:
            line = await reader.readuntil(b"\r\n")
            match = _CHUNK_SIZE.fullmatch(line)
            if match is None:
                raise BadMessage("a malformed chunk")
            writer.write(line)
            size = int(match[1], 16)
            if size == 0:
                break
            await copy_exact(reader, writer, size)
            if await reader.readexactly(2) != b"\r\n":
                raise BadMessage("a chunk without its CRLF")
            writer.write(b"\r\n")
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            writer.write(line)
        writer.write(b"\r\n")
        await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise BadMessage("a malformed chunked body") from None


async def copy_body(reader, writer, framing: tuple[str, int]) -> None:
    kind, count = framing
    if kind == "chunked":
        await copy_chunked(reader, writer)
    else:
        await copy_exact(reader, writer, count)


async def copy_until_eof(reader, writer) -> None:
    while data := await reader.read(COPY_BYTES):
        writer.write(data)
        await writer.drain()


def response(status: int, reason: str, headers: list[tuple[str, str]] = (), body: str = "") -> bytes:
    """A whole short response of the proxy's own, closing the connection."""
    payload = body.encode()
    head = Head(f"HTTP/1.1 {status} {reason}", [
        *headers, ("Content-Length", str(len(payload))), ("Connection", "close"), ("Cache-Control", "no-store"),
        *([("Content-Type", "text/html; charset=utf-8")] if payload else []),
    ])
    return head.encode() + payload


def cookie_pairs(header_values: list[str]) -> list[tuple[str, str]]:
    """The name=value pairs of Cookie headers, in order."""
    pairs = []
    for value in header_values:
        for part in value.split(";"):
            name, eq, val = part.strip().partition("=")
            if name or eq:
                pairs.append((name, val))
    return pairs
