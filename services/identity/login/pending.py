"""A login half done: the password was right and the second factor is still to come.

The browser carries which account, until when, signed with the page secret, so no session exists
before both factors are proven and nothing about it is stored server-side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

from services.identity.runtime import Identity

PENDING_COOKIE = "bd_mfa"
PENDING_SECONDS = 300


def pending_token(identity: Identity, account_id: uuid.UUID) -> str:
    """The cookie value for an account that passed the password step now."""
    payload = f"{account_id}.{int(time.time()) + PENDING_SECONDS}"
    return f"{payload}.{_mac(identity, payload)}"


def pending_account(identity: Identity, token: str | None) -> uuid.UUID | None:
    """The account of a valid, unexpired pending login; None otherwise."""
    if token is None or len(token) > 200 or token.count(".") != 2:
        return None
    account, expires, mac = token.split(".")
    if not hmac.compare_digest(_mac(identity, f"{account}.{expires}"), mac) or not expires.isdigit():
        return None
    if int(expires) < time.time():
        return None
    try:
        return uuid.UUID(account)
    except ValueError:
        return None


def _mac(identity: Identity, payload: str) -> str:
    digest = hmac.new(identity.page_secret, b"pending-login|" + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
