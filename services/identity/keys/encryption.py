"""Encryption of private signing keys at rest: AES-256-GCM under a key encryption key (KEK).

The KEK comes from the environment, never from the database, so a copy of the database alone does not
let anyone sign tokens. Each ciphertext names the KEK that made it (by a fingerprint), so the KEK can
be replaced: new keys are encrypted under the new one while the old one still decrypts older keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

logger = logging.getLogger(__name__)

KEK_BYTES = 32
_NONCE_BYTES = 12


class KeyDecryptionError(Exception):
    """A private key cannot be decrypted: its KEK is not configured, or the ciphertext was altered."""


def parse_kek(value: str) -> bytes:
    """The 32 bytes of a KEK given in base64 (standard or url-safe, padding optional)."""
    text = value.strip()
    try:
        standard = text.translate(str.maketrans("-_", "+/"))
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("a key encryption key must be base64") from error
    if len(raw) != KEK_BYTES:
        raise ValueError(f"a key encryption key must be {KEK_BYTES} bytes")
    return raw


def kek_fingerprint(kek: bytes) -> str:
    """A short public name of a KEK, stored beside each ciphertext it made."""
    return hashlib.sha256(b"basisdienste-identity-kek:" + kek).hexdigest()[:16]


class KeyEncryption:
    """Encrypts with the current KEK and decrypts with any configured one."""

    def __init__(self, current: bytes, older: Sequence[bytes] = ()) -> None:
        self._current = AESGCM(current)
        self.current_id = kek_fingerprint(current)
        self._by_id = {kek_fingerprint(kek): AESGCM(kek) for kek in (*older, current)}

    @classmethod
    def from_settings(cls, current: SecretStr | None, older: Sequence[SecretStr]) -> KeyEncryption:
        """The KEKs of the settings; without a current one, a random KEK for this process only."""
        olders = [parse_kek(secret.get_secret_value()) for secret in older]
        if current is None:
            logger.warning(
                "IDENTITY_KEY_ENCRYPTION_KEY is not set: signing keys are encrypted with a random key of this "
                "process and cannot sign after a restart. Set it in every deployment but a developer's machine."
            )
            return cls(os.urandom(KEK_BYTES), olders)
        return cls(parse_kek(current.get_secret_value()), olders)

    def can_decrypt(self, kek_id: str) -> bool:
        """Whether the KEK named `kek_id` is configured."""
        return kek_id in self._by_id

    def encrypt(self, plaintext: bytes, *, kid: str) -> bytes:
        """``nonce || ciphertext`` of a private key; the kid is bound in, so rows cannot be swapped."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._current.encrypt(nonce, plaintext, _associated_data(kid))

    def decrypt(self, blob: bytes, *, kid: str, kek_id: str) -> bytes:
        """The private key encrypted by :meth:`encrypt` under the KEK named `kek_id`."""
        aead = self._by_id.get(kek_id)
        if aead is None:
            raise KeyDecryptionError(f"key {kid} is encrypted with a key encryption key that is not configured")
        try:
            return aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _associated_data(kid))
        except InvalidTag as error:
            raise KeyDecryptionError(f"key {kid} does not decrypt: altered or wrong key") from error


def _associated_data(kid: str) -> bytes:
    return b"basisdienste-identity-signing-key:" + kid.encode()
