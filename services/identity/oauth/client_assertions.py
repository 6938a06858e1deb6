"""private_key_jwt client authentication (RFC 7523 §2.2, OpenID Connect Core §9).

The client signs a short-lived JWT with a key it registered: ``iss`` and ``sub`` are its client id,
``aud`` names this authorization server, ``exp`` is near and ``jti`` is new. Each ``jti`` is accepted
once: it is stored until the assertion expires, in the database, so a replay fails on every replica.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Collection
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.clients.directory import RegisteredClient
from services.identity.oauth.errors import OAuthError
from services.identity.oauth.models import UsedClientAssertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("ES256", "RS256", "PS256")
MAX_ASSERTION_LENGTH = 8 * 1024
#: An assertion is a one-time proof: one valid for longer than this is refused (the jti store stays small).
MAX_ASSERTION_LIFETIME = dt.timedelta(minutes=5)

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Lenient about header parameters we do not know (crit is still enforced), strict about algorithms.
_REGISTRY = jws.JWSRegistry(algorithms=list(ASSERTION_ALGORITHMS), strict_check_header=False)


def _failed(description: str = "the client assertion is not valid") -> OAuthError:
    return OAuthError("invalid_client", description)


def unverified_issuer(assertion: str) -> str:
    """The client id an assertion claims to come from, before anything is verified (to find its keys)."""
    if len(assertion) > MAX_ASSERTION_LENGTH or not _COMPACT_JWS.fullmatch(assertion):
        raise _failed("the client assertion is not a signed JWT")
    try:
        claims = json.loads(jws.extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError, RecursionError) as error:
        raise _failed("the client assertion is not a signed JWT") from error
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    if not isinstance(issuer, str) or not issuer:
        raise _failed("the client assertion names no issuer")
    return issuer


async def verify_client_assertion(
    session: AsyncSession,
    assertion: str,
    client: RegisteredClient,
    *,
    audiences: Collection[str],
    now: dt.datetime,
    leeway: int,
) -> None:
    """Accept the assertion of `client` once, or raise ``invalid_client``."""
    claims = _verified_claims(assertion, client)
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise _failed("the client assertion's iss and sub must be the client id")
    audience = claims.get("aud")
    named = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    if not any(isinstance(name, str) and name in audiences for name in named):
        raise _failed("the client assertion's aud must name this authorization server")
    expires = _time(claims, "exp")
    if expires is None or expires + dt.timedelta(seconds=leeway) <= now:
        raise _failed("the client assertion has expired or has no exp")
    if expires - now > MAX_ASSERTION_LIFETIME + dt.timedelta(seconds=leeway):
        raise _failed("the client assertion is valid for too long")
    not_before = _time(claims, "nbf")
    if not_before is not None and not_before - dt.timedelta(seconds=leeway) > now:
        raise _failed("the client assertion is not valid yet")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 1 <= len(jti) <= 255:
        raise _failed("the client assertion needs a jti")
    if not await _first_use(session, client.client_id, jti, expires + dt.timedelta(seconds=leeway)):
        raise _failed("the client assertion was used before")


def _verified_claims(assertion: str, client: RegisteredClient) -> dict[str, Any]:
    try:
        header = jws.extract_compact(assertion.encode()).protected
        kid = header.get("kid")
        key = client.keys.get(kid) if isinstance(kid, str) else _only_key(client)
        if key is None:
            raise _failed("the client assertion is signed with a key the client did not register")
        signed = jws.deserialize_compact(assertion, key, registry=_REGISTRY)
        claims = json.loads(signed.payload)
    except OAuthError:
        raise
    except (JoseError, ValueError, RecursionError) as error:
        raise _failed("the client assertion's signature is not valid") from error
    if not isinstance(claims, dict):
        raise _failed("the client assertion's claims are not a JSON object")
    return claims


def _only_key(client: RegisteredClient) -> Any:
    # Without a kid the key is unambiguous only when the client registered a single one.
    return next(iter(client.keys.values())) if len(client.keys) == 1 else None


def _time(claims: dict[str, Any], name: str) -> dt.datetime | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


async def _first_use(session: AsyncSession, client_id: str, jti: str, expires_at: dt.datetime) -> bool:
    values = {"client_id": client_id, "jti": jti, "expires_at": expires_at}
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(UsedClientAssertion).values(values).on_conflict_do_nothing().returning(UsedClientAssertion.jti)
    return (await session.execute(statement)).scalar_one_or_none() is not None
