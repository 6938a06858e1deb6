"""Cookies of the HTML pages: HttpOnly, SameSite=Lax, Secure and ``__Secure-`` prefixed over HTTPS, scoped
to the issuer's path so that the other services behind the same gateway never see them."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.responses import Response

from services.identity.runtime import Identity

SetCookie = Callable[[Response], None]


def cookie_name(identity: Identity, name: str) -> str:
    """The name a cookie has on the wire: ``__Secure-<name>`` over HTTPS, which browsers only accept when Secure."""
    return f"__Secure-{name}" if _secure(identity) else name


def cookie_path(identity: Identity) -> str:
    """The path of the issuer (``/identity`` behind the gateway), so the cookies go to this service only."""
    return urlsplit(identity.issuer).path or "/"


def set_cookie(response: Response, identity: Identity, name: str, value: str, *, max_age: int | None = None) -> None:
    """Set cookie `name`; without `max_age` a session cookie that ends with the browser."""
    response.set_cookie(
        cookie_name(identity, name),
        value,
        max_age=max_age,
        path=cookie_path(identity),
        secure=_secure(identity),
        httponly=True,
        samesite="lax",
    )


def delete_cookie(response: Response, identity: Identity, name: str) -> None:
    """Remove cookie `name` from the browser."""
    response.delete_cookie(
        cookie_name(identity, name), path=cookie_path(identity), secure=_secure(identity), httponly=True, samesite="lax"
    )


def _secure(identity: Identity) -> bool:
    return identity.issuer.startswith("https://")
