"""Client secrets: 256 random bits, stored only as HMAC-SHA-256 under a server pepper.

A slow password hash (argon2) protects low-entropy human passwords against guessing; a 256-bit random
secret cannot be guessed, so a keyed fast hash is as safe and keeps the token endpoint fast. The
pepper lives outside the database: a stolen table alone cannot even be checked against a guess.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from pydantic import SecretStr

logger = logging.getLogger(__name__)

SECRET_BYTES = 32
MIN_PEPPER_BYTES = 32
#: Longest secret we hash: ours are 43 characters; a megabyte "secret" should not cost a megabyte of HMAC.
MAX_SECRET_LENGTH = 512


def new_client_secret() -> str:
    """A fresh secret (43 url-safe characters), shown to the client once and never stored."""
    return secrets.token_urlsafe(SECRET_BYTES)


class SecretHasher:
    """Hashes and checks client secrets with one pepper."""

    def __init__(self, pepper: bytes) -> None:
        if len(pepper) < MIN_PEPPER_BYTES:
            raise ValueError(f"the client secret pepper needs at least {MIN_PEPPER_BYTES} bytes")
        self._pepper = pepper

    @classmethod
    def from_settings(cls, pepper: SecretStr | None) -> SecretHasher:
        """The hasher of the configured pepper; without one, a random pepper for this process only."""
        if pepper is None:
            logger.warning(
                "IDENTITY_CLIENT_SECRET_PEPPER is not set: client secrets are hashed with a random pepper of "
                "this process and stop working after a restart. Set it everywhere but a developer's machine."
            )
            return cls(secrets.token_bytes(MIN_PEPPER_BYTES))
        return cls(pepper.get_secret_value().encode())

    def hash(self, secret: str) -> bytes:
        """The stored form of `secret`."""
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).digest()

    def matches(self, secret: str, stored: bytes | None) -> bool:
        """Whether `secret` is the one `stored` was made from, compared in constant time."""
        if stored is None or len(secret) > MAX_SECRET_LENGTH:
            return False
        return hmac.compare_digest(self.hash(secret), stored)
