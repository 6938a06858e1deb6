"""Key pairs for ES256 (P-256) and RS256, their public JWKs (RFC 7517) and compact JWS signatures.

Signing is done here with ``cryptography`` directly rather than through a JOSE library: the token
endpoint signs on every request, and building the three segments by hand halves the cost. The
tests check every signature with joserfc and with :class:`kit.auth.TokenVerifier`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from services.identity.config import SigningAlgorithm

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_P256_COORDINATE_BYTES = 32


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url(value.to_bytes(size, "big"))


def generate_private_key(algorithm: SigningAlgorithm, rsa_bits: int) -> PrivateKey:
    """A new private key for `algorithm` (slow for RSA: call it in a thread)."""
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)


def private_key_bytes(key: PrivateKey) -> bytes:
    """The unencrypted PKCS #8 DER form of a private key (encrypt it before storing)."""
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(der: bytes) -> PrivateKey:
    """The private key of :func:`private_key_bytes`."""
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("not an EC or RSA private key")
    return key


def public_members(key: PrivateKey) -> dict[str, str]:
    """The required public members of the key's JWK (RFC 7518 §6), in the order RFC 7638 hashes them."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = key.public_key().public_numbers()
        return {
            "crv": "P-256",
            "kty": "EC",
            "x": _uint(numbers.x, _P256_COORDINATE_BYTES),
            "y": _uint(numbers.y, _P256_COORDINATE_BYTES),
        }
    rsa_numbers = key.public_key().public_numbers()
    return {"e": _uint(rsa_numbers.e), "kty": "RSA", "n": _uint(rsa_numbers.n)}


def thumbprint(members: Mapping[str, str]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256) of a key's required public members: our key ids."""
    canonical = json.dumps(dict(sorted(members.items())), separators=(",", ":"), ensure_ascii=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def public_jwk(key: PrivateKey, algorithm: SigningAlgorithm) -> dict[str, str]:
    """The public JWK as the JWKS publishes it; its ``kid`` is the thumbprint."""
    members = public_members(key)
    return {**members, "kid": thumbprint(members), "use": "sig", "alg": algorithm}


@functools.lru_cache(maxsize=64)
def _header_segment(algorithm: str, typ: str, kid: str) -> str:
    # The same few headers on every token: encoded once.
    return b64url(json.dumps({"alg": algorithm, "typ": typ, "kid": kid}, separators=(",", ":")).encode())


@dataclass(frozen=True)
class Signer:
    """Signs JWTs with one private key, as ``{"alg", "typ", "kid"}``-headed compact JWS."""

    kid: str
    algorithm: SigningAlgorithm
    private_key: PrivateKey

    def sign(self, claims: Mapping[str, Any], *, typ: str = "at+jwt") -> str:
        """The compact JWS of `claims` (RFC 9068 access tokens by default; ``typ="JWT"`` for ID tokens)."""
        payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False)
        signing_input = f"{_header_segment(self.algorithm, typ, self.kid)}.{b64url(payload.encode())}"
        return f"{signing_input}.{b64url(self._signature(signing_input.encode('ascii')))}"

    def _signature(self, data: bytes) -> bytes:
        if isinstance(self.private_key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(self.private_key.sign(data, ec.ECDSA(hashes.SHA256())))
            # JWS wants the fixed-size concatenation r || s, not the DER sequence (RFC 7518 §3.4).
            return r.to_bytes(_P256_COORDINATE_BYTES, "big") + s.to_bytes(_P256_COORDINATE_BYTES, "big")
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
