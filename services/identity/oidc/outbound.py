"""Checks on URLs the service calls on its own (back-channel logout): no requests into internal networks.

A client registers the URL, so it is outside input: without this check, registering
``http://169.254.169.254/...`` or an internal admin interface would make the identity service attack
its own network (SSRF). The host is resolved and every address must be public; hosts an operator lists
explicitly (development, tests) are exempt.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection
from urllib.parse import urlsplit


class ForbiddenTargetError(Exception):
    """The URL points to an internal, local or otherwise non-public address."""


def is_public(address: str) -> bool:
    """Whether `address` is a globally routable unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_target(url: str, allowed_hosts: Collection[str]) -> None:
    """Raise ForbiddenTargetError unless every address `url`'s host resolves to is public (or it is allowed)."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("https", "http") or host is None:
        raise ForbiddenTargetError("not an http(s) URL")
    if host in allowed_hosts:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as error:
        raise ForbiddenTargetError(f"{host} does not resolve") from error
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or not all(is_public(address) for address in addresses):
        raise ForbiddenTargetError(f"{host} resolves to a non-public address")
