"""The issuer's signing keys (RFC 7517 JWKS), fetched over HTTP and cached by key id.

Fetching is bounded: at most one request per ``min_refresh_interval``, however many tokens with
unknown key ids arrive, and concurrent callers share one in-flight fetch. A failed fetch keeps the
last good keys, so a short outage of the issuer does not lock every caller out.

Only public keys that can verify an ES256 or RS256 signature are kept: EC on P-256 and RSA of at
least 2048 bits, with ``use`` "sig" or absent. Symmetric (``oct``) keys are never taken from a JWKS:
a published "secret" would let anyone forge HMAC tokens.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, RSAKey

__all__ = ["JwksCache", "VerificationKey"]

VerificationKey = ECKey | RSAKey

logger = logging.getLogger(__name__)

#: A JWKS larger than this is not a key set but an attack or a misconfiguration.
MAX_JWKS_BYTES = 256 * 1024
MIN_RSA_KEY_BITS = 2048
DEFAULT_FETCH_TIMEOUT = 5.0

#: The members of a public JWK we read; anything else (private parts, certificates) is dropped.
_PUBLIC_MEMBERS = {"EC": ("kty", "crv", "x", "y"), "RSA": ("kty", "n", "e")}
_METADATA_MEMBERS = ("kid", "use", "alg", "key_ops")


class JwksFetchError(Exception):
    """The JWKS could not be fetched or is not a JWKS."""


class JwksCache:
    """Signing keys of one issuer, refreshed when stale and, within bounds, on an unknown ``kid``.

    Pass an ``http_client`` to share connections (and, in tests, to serve the JWKS in-process);
    without one the cache creates its own and closes it in :meth:`aclose`.
    """

    def __init__(
        self,
        url: str,
        http_client: httpx.AsyncClient | None = None,
        *,
        min_refresh_interval: float = 30.0,
        max_age: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min_refresh_interval < 0 or max_age <= 0:
            raise ValueError("min_refresh_interval must be >= 0 and max_age > 0")
        self.url = url
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=DEFAULT_FETCH_TIMEOUT)
        self._min_refresh_interval = min_refresh_interval
        self._max_age = max_age
        self._clock = clock
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        self._inflight: asyncio.Task[None] | None = None

    async def get_key(self, kid: str) -> VerificationKey | None:
        """The verification key with this ``kid``, or None if the issuer does not publish one."""
        if self._is_stale():
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            await self._refresh()
            key = self._keys.get(kid)
        return key

    async def aclose(self) -> None:
        """Close the HTTP client if this cache created it."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _is_stale(self) -> bool:
        return self._clock() - self._fetched_at >= self._max_age

    def _may_fetch(self) -> bool:
        return self._clock() - self._attempted_at >= self._min_refresh_interval

    async def _refresh(self) -> None:
        """Fetch the JWKS unless a fetch happened too recently; concurrent callers share one fetch."""
        if self._inflight is None:
            if not self._may_fetch():
                return
            self._attempted_at = self._clock()
            self._inflight = asyncio.create_task(self._fetch_and_store())
        # Shielded: a caller that goes away (client disconnect) must not cancel the others' fetch.
        await asyncio.shield(self._inflight)

    async def _fetch_and_store(self) -> None:
        try:
            keys = await self._fetch()
        except JwksFetchError as error:
            logger.warning("JWKS fetch from %s failed (%s); keeping %d known keys", self.url, error, len(self._keys))
        else:
            self._keys = keys
            self._fetched_at = self._clock()
        finally:
            self._inflight = None

    async def _fetch(self) -> dict[str, VerificationKey]:
        try:
            async with self._client.stream(
                "GET", self.url, headers={"Accept": "application/jwk-set+json, application/json"}
            ) as response:
                response.raise_for_status()
                body = await _read_bounded(response, MAX_JWKS_BYTES)
            document = json.loads(body)
        except httpx.HTTPError as error:
            raise JwksFetchError(type(error).__name__) from error
        except (ValueError, RecursionError) as error:
            raise JwksFetchError("response is not JSON") from error
        return parse_jwks(document)


async def _read_bounded(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise JwksFetchError(f"JWKS larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_jwks(document: Any) -> dict[str, VerificationKey]:
    """The usable signature verification keys of a JWKS document, by ``kid``.

    Keys we cannot or must not use are skipped, not fatal: an issuer may publish encryption keys or
    key types we do not support beside the ones we need.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JwksFetchError("document has no 'keys' array")
    keys: dict[str, VerificationKey] = {}
    for jwk in document["keys"]:
        key = _verification_key(jwk)
        if key is None:
            continue
        kid = jwk["kid"]
        if kid in keys:
            logger.warning("JWKS publishes kid %r twice; using the first", kid)
            continue
        keys[kid] = key
    return keys


def _verification_key(jwk: Any) -> VerificationKey | None:
    if not isinstance(jwk, Mapping):
        return None
    kid, kty = jwk.get("kid"), jwk.get("kty")
    if not isinstance(kid, str) or not kid:
        return None
    if kty not in _PUBLIC_MEMBERS:
        logger.debug("skipping JWK %r of key type %r", kid, kty)
        return None
    if jwk.get("use", "sig") != "sig":
        return None
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    members = {name: jwk[name] for name in (*_PUBLIC_MEMBERS[kty], *_METADATA_MEMBERS) if name in jwk}
    try:
        with warnings.catch_warnings():
            # joserfc warns about short RSA keys; _is_strong_enough rejects them below.
            warnings.simplefilter("ignore", SecurityWarning)
            key = _import_public_key(kty, members)
    except (JoseError, ValueError, TypeError) as error:
        logger.warning("skipping unusable JWK %r: %s", kid, type(error).__name__)
        return None
    return key if _is_strong_enough(key) else None


def _import_public_key(kty: str, members: dict[str, Any]) -> VerificationKey:
    if kty == "EC":
        return ECKey.import_key(members)
    return RSAKey.import_key(members)


def _is_strong_enough(key: VerificationKey) -> bool:
    strong = key.curve_name == "P-256" if isinstance(key, ECKey) else key.public_key.key_size >= MIN_RSA_KEY_BITS
    if not strong:
        logger.warning("skipping JWK %r: curve or key size not accepted", key.kid)
    return strong
