"""Access tokens: JWTs per RFC 9068, signed with the ring's current key, and read back for introspection."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from services.identity.keys.ring import KeyRing

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - the JWT typ of access tokens (RFC 9068), not a secret
MAX_TOKEN_LENGTH = 16 * 1024

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_REGISTRY = jws.JWSRegistry(algorithms=["ES256", "RS256"], strict_check_header=False)


@dataclass(frozen=True)
class AccessTokenRequest:
    """What an access token says: who for, which client, which audiences and scopes, how long."""

    subject: str
    client_id: str
    tenant: str | None
    audiences: Sequence[str]
    scopes: Sequence[str]
    lifetime: int
    acr: str | None = None
    #: Further claims (``auth_time``, the ``organisation`` a person acts for).
    extra: Mapping[str, Any] = field(default_factory=dict)


def issue_access_token(ring: KeyRing, issuer: str, request: AccessTokenRequest) -> str:
    """A signed RFC 9068 access token (``typ: at+jwt``) for `request`."""
    moment = time.time()
    now = int(moment)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": request.subject,
        "aud": request.audiences[0] if len(request.audiences) == 1 else list(request.audiences),
        "exp": now + request.lifetime,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "client_id": request.client_id,
    }
    if request.scopes:
        claims["scope"] = " ".join(request.scopes)
    if request.tenant is not None:
        claims["tenant"] = request.tenant
    if request.acr is not None:
        claims["acr"] = request.acr
    claims.update(request.extra)
    return ring.signer(at=moment).sign(claims, typ=ACCESS_TOKEN_TYPE)


def read_access_token(ring: KeyRing, issuer: str, token: str, *, now: float | None = None) -> dict[str, Any] | None:
    """The claims of an access token this service issued and that has not expired; None for anything else.

    No leeway: introspection answers for this moment, and a token at its exp is no longer active.
    """
    if len(token) > MAX_TOKEN_LENGTH or not _COMPACT_JWS.fullmatch(token):
        return None
    try:
        header = jws.extract_compact(token.encode()).protected
        kid, typ = header.get("kid"), header.get("typ")
        if not isinstance(kid, str) or not isinstance(typ, str) or typ.lower() not in ("at+jwt", "application/at+jwt"):
            return None
        key = ring.verification_key(kid)
        if key is None:
            return None
        claims = json.loads(jws.deserialize_compact(token, key, registry=_REGISTRY).payload)
    except (JoseError, ValueError, RecursionError):
        return None
    if not isinstance(claims, dict) or claims.get("iss") != issuer:
        return None
    expires, jti = claims.get("exp"), claims.get("jti")
    if not isinstance(expires, int) or expires <= (time.time() if now is None else now) or not isinstance(jti, str):
        return None
    return claims
