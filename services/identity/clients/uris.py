"""The rules for URIs a client registers: redirect URIs, the back-channel logout URI, the sector identifier.

Redirect URIs are compared by exact string match at the authorization endpoint, so they are checked
here for what makes exact matching safe: an absolute https URI with a host and no fragment, no
wildcard and no user info; plain http only to the loopback interface for development (RFC 8252 §7.3).
URIs the identity service itself calls (back-channel logout, the sector identifier document) must not
point into internal networks.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

MAX_URI_LENGTH = 2048
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
#: Printable ASCII without space: an IRI or anything with whitespace must be percent-encoded first.
_URI_CHARACTERS = re.compile(r"[\x21-\x7e]+")


def check_redirect_uri(uri: str) -> str:
    """`uri` if it may be registered as a redirect URI; ValueError saying why not otherwise."""
    parts = _absolute(uri)
    host = _netloc_host(parts)
    if parts.scheme == "http":
        if host not in LOOPBACK_HOSTS:
            raise ValueError("a redirect URI must use https (http only for localhost, 127.0.0.1 or [::1])")
    elif parts.scheme != "https":
        raise ValueError("a redirect URI must use https")
    return uri


def check_outbound_uri(uri: str) -> str:
    """`uri` if the identity service may call it (https, not an internal address); ValueError otherwise.

    Only literal addresses and local names can be refused here: the caller must check the addresses a
    name resolves to again when it connects.
    """
    parts = _absolute(uri)
    if parts.scheme != "https":
        raise ValueError("the URI must use https")
    host = _netloc_host(parts)
    if is_internal_host(host):
        raise ValueError("the URI must not point to a local or internal address")
    return uri


def uri_host(uri: str) -> str:
    """The host of a URI that passed one of the checks above (lower case, brackets kept for IPv6)."""
    return _netloc_host(urlsplit(uri))


def is_internal_host(host: str) -> bool:
    """Whether `host` names this machine or a private, link-local or otherwise non-public address."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return not address.is_global or address.is_multicast


def _absolute(uri: str) -> SplitResult:
    if len(uri) > MAX_URI_LENGTH or not _URI_CHARACTERS.fullmatch(uri):
        raise ValueError("the URI must be printable ASCII without spaces, at most 2048 characters")
    if "#" in uri:
        raise ValueError("the URI must not have a fragment")
    if "*" in uri:
        raise ValueError("the URI must not contain wildcards")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as error:
        raise ValueError("the URI is malformed") from error
    if not parts.scheme or not parts.netloc:
        raise ValueError("the URI must be absolute, with a scheme and a host")
    return parts


def _netloc_host(parts: SplitResult) -> str:
    if "@" in parts.netloc:
        raise ValueError("the URI must not contain user information")
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    if not host:
        raise ValueError("the URI must name a host")
    return host.lower()
