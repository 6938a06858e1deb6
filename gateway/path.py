"""Strict request paths: a path either is in normal form or is refused, never repaired.

A gateway that normalises a path differently from the upstream behind it lets a client reach a route
it was never matched against (``/payment/../identity/admin``, ``/payment%2f..%2fidentity``). So the
gateway does not normalise at all: it refuses every path whose meaning could depend on who decodes
it — dot segments, encoded slashes and backslashes (also double-encoded), empty segments, control
characters, raw non-ASCII bytes, broken percent-encoding — and forwards the accepted path byte for
byte, so the upstream sees exactly what was checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

__all__ = ["MAX_PATH_BYTES", "InvalidPathError", "RequestPath", "check_query", "parse_path"]

#: Longer request targets are not API calls; nginx's default large_client_header_buffers is 8 KiB.
MAX_PATH_BYTES = 8192

#: RFC 3986 ``path-absolute`` characters: unreserved, sub-delims, ":", "@", "/" and "%" of escapes.
_PATH_CHARACTERS = re.compile(rb"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")
_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
#: After one decoding round: bytes that change a path's structure or are never legitimate in one.
_DECODED_FORBIDDEN = re.compile(rb"[\x00-\x1f\x7f/\\]")
#: A percent escape that is still there after decoding once: the path was encoded twice.
_STILL_ENCODED = re.compile(rb"%[0-9A-Fa-f]{2}")
#: The query is forwarded byte for byte, so it must already be encoded (RFC 3986): no spaces, no
#: control characters that could split a header or a log line, no raw non-ASCII bytes.
_QUERY_FORBIDDEN = re.compile(rb"[^\x21-\x7e]")


class InvalidPathError(ValueError):
    """The request path is not in normal form; ``reason`` says why (safe to show the client)."""

    def __init__(self, reason: str, *, too_long: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_long = too_long


@dataclass(frozen=True, slots=True)
class RequestPath:
    """An accepted request path."""

    #: The path as the client sent it (still percent-encoded), to be forwarded unchanged.
    raw: str
    #: The raw path split at "/": ``/a/b/`` is ``("a", "b", "")``.
    raw_segments: tuple[str, ...]
    #: The decoded segments, for matching routes; the same number as ``raw_segments``.
    segments: tuple[str, ...]


def parse_path(raw: bytes) -> RequestPath:
    """Accept `raw` (the request target's path, as received) or raise :class:`InvalidPathError`."""
    if len(raw) > MAX_PATH_BYTES:
        raise InvalidPathError(f"the path is longer than {MAX_PATH_BYTES} bytes", too_long=True)
    if not _PATH_CHARACTERS.fullmatch(raw):
        raise InvalidPathError("the path must be absolute and hold only URI path characters")
    text = raw.decode("ascii")
    raw_segments = tuple(text[1:].split("/"))
    segments = tuple(_decoded_segment(segment) for segment in raw_segments) if b"%" in raw else raw_segments
    # An empty segment anywhere but at the end ("//", "/a//b") means different things to different servers.
    if any(not segment for segment in segments[:-1]):
        raise InvalidPathError("the path has an empty segment (duplicate slash)")
    for segment in segments:
        # Also "..;x": servlet containers drop path parameters before resolving dot segments.
        if segment.split(";", 1)[0] in (".", ".."):
            raise InvalidPathError("the path has a dot segment")
    return RequestPath(raw=text, raw_segments=raw_segments, segments=segments)


def _decoded_segment(segment: str) -> str:
    encoded = segment.encode("ascii")
    if _ESCAPE.search(encoded):
        raise InvalidPathError("the path has an invalid percent-encoding")
    decoded = unquote_to_bytes(encoded)
    if _DECODED_FORBIDDEN.search(decoded):
        raise InvalidPathError("the path has an encoded slash, backslash or control character")
    if _STILL_ENCODED.search(decoded):
        raise InvalidPathError("the path is percent-encoded twice")
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidPathError("the path has percent-encoded bytes that are not UTF-8") from error


def check_query(raw: bytes) -> None:
    """Raise :class:`InvalidPathError` unless the query string is printable ASCII without spaces."""
    if raw and _QUERY_FORBIDDEN.search(raw):
        raise InvalidPathError("the query string has spaces, control characters or unencoded non-ASCII bytes")
