"""Device cookies (OWASP): a browser that logged in to an account before carries a signed cookie naming
the account, and is exempt from that account's failed-login delay.

This is what keeps the per-account delay from locking a victim out: an attacker failing on purpose
slows down every unknown browser, but not the owner's own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from services.identity.runtime import Identity

DEVICE_COOKIE = "bd_device"
#: A year: the exemption is only worth something if it outlives the attack.
DEVICE_COOKIE_MAX_AGE = 365 * 24 * 3600


def device_token(identity: Identity, account_id: uuid.UUID) -> str:
    """The cookie value for a browser that just logged in to `account_id`."""
    mac = hmac.new(identity.page_secret, b"device|" + account_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def is_known_device(identity: Identity, token: str | None, account_id: uuid.UUID) -> bool:
    """Whether `token` is this account's device cookie."""
    return token is not None and len(token) < 100 and hmac.compare_digest(device_token(identity, account_id), token)
