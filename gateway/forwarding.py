"""Which headers cross the gateway, in each direction, and the ``X-Forwarded-*`` it sets.

Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection and never cross: the fixed list, and
every header the ``Connection`` header names. The client's ``Host`` never reaches an upstream (the
upstream's own is sent), and forwarding headers a client made up are dropped: ``X-Forwarded-For``,
``-Proto`` and ``-Host`` are the gateway's own statement of what it saw, unless the connection comes
from a proxy listed in ``GATEWAY_TRUSTED_PROXIES``, whose statements are kept and extended.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "HOP_BY_HOP",
    "ClientHeaders",
    "Forwarding",
    "InvalidHeaderError",
    "TrustedProxies",
    "forwarding_for",
    "read_client_headers",
    "response_headers",
]

#: Never forwarded in either direction. ``expect`` is answered by the gateway's server itself.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
    }
)
#: Statements about the client that only the gateway (or a trusted proxy in front of it) may make.
_FORWARDING = frozenset(
    {
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"x-real-ip",
    }
)
#: Set by the gateway itself on the way up. The body's framing (``Content-Length``, or chunked) is
#: always the gateway's own statement of what it sends, so no header list can make it go missing.
_REPLACED = frozenset({b"host", b"x-request-id", b"content-length"}) | _FORWARDING
_DROPPED_UPSTREAM = HOP_BY_HOP | _REPLACED
#: Response headers the gateway's own server sets.
_DROPPED_DOWNSTREAM = HOP_BY_HOP | {b"date", b"server"}
#: reg-name or IPv4 (RFC 3986), or an IPv6 literal, with an optional port.
_HOST = re.compile(r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")
_PROTO = re.compile(r"https?")


class InvalidHeaderError(ValueError):
    """A request header the gateway refuses to pass on; the message is safe to show the client."""


class TrustedProxies:
    """The networks whose ``X-Forwarded-*`` headers the gateway believes."""

    def __init__(self, networks: Iterable[str] = ()) -> None:
        self.networks = [ipaddress.ip_network(network.strip(), strict=False) for network in networks if network.strip()]

    def trusts(self, address: str) -> bool:
        """Whether `address` belongs to a trusted proxy."""
        if not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


@dataclass(slots=True)
class ClientHeaders:
    """What the gateway reads from a request's headers in one pass, and what it sends upstream."""

    #: End-to-end headers to forward (names lower-case, as received), before the gateway adds its own.
    forward: list[tuple[bytes, bytes]]
    authorization: list[str]
    host: str | None
    content_length: list[bytes]
    chunked: bool
    forwarded_for: str | None
    forwarded_proto: str | None
    forwarded_host: str | None


def read_client_headers(raw: Sequence[tuple[bytes, bytes]]) -> ClientHeaders:
    """Split the ASGI headers of a request into those to forward and those the gateway acts on."""
    connection_tokens: set[bytes] = set()
    authorization: list[str] = []
    host: str | None = None
    content_length: list[bytes] = []
    transfer_encoding: list[bytes] = []
    forwarded: dict[bytes, list[str]] = {}
    kept: list[tuple[bytes, bytes]] = []
    for name, value in raw:
        if name not in _DROPPED_UPSTREAM:
            if name == b"authorization":
                authorization.append(value.decode("latin-1"))
            kept.append((name, value))
            continue
        if name == b"content-length":
            content_length.append(value)
        elif name == b"connection":
            connection_tokens.update(token.strip().lower() for token in value.split(b","))
        elif name == b"host":
            if host is not None:
                raise InvalidHeaderError("the request has more than one Host header")
            host = value.decode("latin-1")
        elif name == b"transfer-encoding":
            transfer_encoding.append(value)
        elif name in _FORWARDING:
            forwarded.setdefault(name, []).append(value.decode("latin-1"))
    if host is not None and not _HOST.fullmatch(host):
        raise InvalidHeaderError("the Host header is not a host name with an optional port")
    chunked = _is_chunked(transfer_encoding)
    if chunked and content_length:
        # RFC 9112 §6.1: a message with both is a smuggling attempt or a broken intermediary.
        raise InvalidHeaderError("the request has both Transfer-Encoding and Content-Length")
    # Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
    forward = [(name, value) for name, value in kept if name not in connection_tokens] if connection_tokens else kept
    return ClientHeaders(
        forward=forward,
        authorization=authorization,
        host=host,
        content_length=content_length,
        chunked=chunked,
        forwarded_for=", ".join(forwarded[b"x-forwarded-for"]) if b"x-forwarded-for" in forwarded else None,
        forwarded_proto=_single(forwarded.get(b"x-forwarded-proto")),
        forwarded_host=_single(forwarded.get(b"x-forwarded-host")),
    )


def _is_chunked(values: list[bytes]) -> bool:
    if not values:
        return False
    codings = [coding.strip().lower() for value in values for coding in value.split(b",")]
    if codings != [b"chunked"]:
        raise InvalidHeaderError("only the chunked transfer coding is accepted")
    return True


def _single(values: list[str] | None) -> str | None:
    return values[0].strip() if values and len(values) == 1 else None


@dataclass(frozen=True, slots=True)
class Forwarding:
    """Who the client is, as far as the gateway can tell, and the headers saying so upstream."""

    client_ip: str
    headers: list[tuple[bytes, bytes]]


def forwarding_for(
    headers: ClientHeaders, *, peer: str, scheme: str, trusted: TrustedProxies, prefix: str | None
) -> Forwarding:
    """The client's address and the ``X-Forwarded-*`` headers for a request from `peer`.

    From an untrusted peer the gateway says only what it saw itself. From a trusted proxy it keeps
    the chain and takes as the client the right-most address that is not a trusted proxy, since
    every hop appends and only the hops we trust can be believed.
    """
    client_ip = peer
    chain = peer
    proto = scheme
    host = headers.host
    if trusted.trusts(peer):
        prior = [part.strip() for part in (headers.forwarded_for or "").split(",") if part.strip()]
        if prior:
            chain = ", ".join([*prior, peer])
            client_ip = next((address for address in reversed(prior) if not trusted.trusts(address)), prior[0])
        if headers.forwarded_proto and _PROTO.fullmatch(headers.forwarded_proto):
            proto = headers.forwarded_proto
        if headers.forwarded_host and _HOST.fullmatch(headers.forwarded_host):
            host = headers.forwarded_host
    added = [(b"x-forwarded-for", chain.encode("latin-1")), (b"x-forwarded-proto", proto.encode("latin-1"))]
    if host:
        added.append((b"x-forwarded-host", host.encode("latin-1")))
    if prefix:
        added.append((b"x-forwarded-prefix", prefix.encode("latin-1")))
    return Forwarding(client_ip=client_ip, headers=added)


def response_headers(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The upstream's response headers to pass to the client (names lower-case, hop-by-hop removed)."""
    headers = [(name.lower(), value) for name, value in raw]
    connection_tokens = {
        token.strip().lower() for name, value in headers if name == b"connection" for token in value.split(b",")
    }
    dropped = _DROPPED_DOWNSTREAM | connection_tokens if connection_tokens else _DROPPED_DOWNSTREAM
    return [(name, value) for name, value in headers if name not in dropped]
