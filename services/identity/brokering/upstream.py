"""Logging in through an upstream OpenID Connect provider (as states broker BundID), mapping its trust levels.

The person is sent to the upstream provider with the authorization code flow (PKCE S256, ``state``,
``nonce``); on return the code is redeemed at its token endpoint with the client's secret and the ID token is
checked against the provider's discovery and JWKS (signature, ``iss``, ``aud``, ``exp``, ``nonce``). Its
``acr`` is mapped to our Vertrauensniveau; each attribute is stored at the lower of that level and the level
configured for it (e.g. an e-mail address the upstream never verified stays niedrig). The flow's state
travels in a cookie signed with the page secret, so nothing is stored until the login succeeds.

The :class:`UpstreamProvider` settings are the interface a SAML provider would implement too; SAML itself
is not built.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, Field, SecretStr

from services.identity.accounts.attributes import VerifiedAttribute
from services.identity.login.levels import LEVELS, lowest

FLOW_COOKIE = "bd_broker"
FLOW_SECONDS = 600
#: Claims taken over from the upstream ID token or userinfo.
MAPPED_CLAIMS = ("given_name", "family_name", "birthdate", "place_of_birth", "address", "nationality", "email")


class UpstreamProvider(BaseModel):
    """An upstream OpenID provider the login page offers (``IDENTITY_UPSTREAM_PROVIDERS``, a JSON list)."""

    name: str = Field(pattern=r"^[a-z0-9-]{1,32}$", description="Short name, part of URLs and of the link key.")
    label: str = Field(max_length=100, description="Button text on the login page.")
    issuer: str
    client_id: str
    client_secret: SecretStr
    scopes: str = "openid profile email"
    acr_levels: dict[str, str] = Field(
        default={}, description="Upstream acr value -> niedrig|substanziell|hoch; unknown values count as niedrig."
    )
    attribute_levels: dict[str, str] = Field(
        default={}, description="Highest level per claim (e.g. email: niedrig); unlisted claims take the acr level."
    )


class BrokeringError(Exception):
    """The upstream login failed or its answer is not trustworthy (German text for the page)."""


def _mac(secret: bytes, payload: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret, b"broker|" + payload, hashlib.sha256).digest()).decode()


def seal(secret: bytes, flow: dict[str, str]) -> str:
    """The flow state as a signed cookie value."""
    payload = base64.urlsafe_b64encode(json.dumps({**flow, "exp": int(time.time()) + FLOW_SECONDS}).encode())
    return payload.decode() + "." + _mac(secret, payload)


def unseal(secret: bytes, value: str | None) -> dict[str, Any] | None:
    """The flow state of a valid, unexpired cookie; None otherwise."""
    if value is None or len(value) > 4096 or "." not in value:
        return None
    payload, mac = value.rsplit(".", 1)
    if not hmac.compare_digest(_mac(secret, payload.encode()), mac):
        return None
    flow: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload))
    return flow if flow.get("exp", 0) > time.time() else None


async def discovery(http: httpx.AsyncClient, provider: UpstreamProvider) -> dict[str, Any]:
    """The provider's metadata, whose issuer must be the configured one (OIDC Discovery §4.3)."""
    answer = await http.get(provider.issuer.rstrip("/") + "/.well-known/openid-configuration")
    metadata: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
    if metadata.get("issuer") != provider.issuer.rstrip("/"):
        raise BrokeringError("Der Anmeldedienst ist nicht erreichbar oder falsch eingerichtet.")
    return metadata


def authorization_url(
    metadata: dict[str, Any], provider: UpstreamProvider, redirect_uri: str
) -> tuple[str, dict[str, str]]:
    """Where to send the browser, and the flow state to keep (state, nonce, PKCE verifier)."""
    flow = {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "verifier": secrets.token_urlsafe(48),
    }
    challenge = base64.urlsafe_b64encode(hashlib.sha256(flow["verifier"].encode()).digest()).rstrip(b"=").decode()
    query = httpx.QueryParams(
        response_type="code",
        client_id=provider.client_id,
        redirect_uri=redirect_uri,
        scope=provider.scopes,
        state=flow["state"],
        nonce=flow["nonce"],
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    return f"{metadata['authorization_endpoint']}?{query}", flow


async def redeem(
    http: httpx.AsyncClient,
    metadata: dict[str, Any],
    provider: UpstreamProvider,
    flow: dict[str, Any],
    code: str,
    redirect_uri: str,
) -> tuple[str, str, list[VerifiedAttribute]]:
    """Redeem the code and check the ID token: the upstream subject, our level, and the attributes."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": flow["verifier"],
    }
    auth = (provider.client_id, provider.client_secret.get_secret_value())
    answer = await http.post(metadata["token_endpoint"], data=form, auth=auth)
    tokens = answer.json() if answer.status_code == 200 else {}
    if not isinstance(tokens.get("id_token"), str):
        raise BrokeringError("Der Anmeldedienst hat die Anmeldung nicht bestätigt.")
    keys = KeySet.import_key_set((await http.get(metadata["jwks_uri"])).json())
    try:
        claims = jwt.decode(tokens["id_token"], keys).claims
    except (JoseError, ValueError) as error:
        raise BrokeringError("Die Bestätigung des Anmeldedienstes ist nicht gültig signiert.") from error
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    valid = (
        claims.get("iss") == provider.issuer.rstrip("/")
        and provider.client_id in audiences
        and isinstance(claims.get("exp"), int)
        and claims["exp"] > time.time() - 60
        and claims.get("nonce") == flow["nonce"]
        and isinstance(claims.get("sub"), str)
    )
    if not valid:
        raise BrokeringError("Die Bestätigung des Anmeldedienstes passt nicht zu dieser Anmeldung.")
    level = provider.acr_levels.get(str(claims.get("acr")), "niedrig")
    level = level if level in LEVELS else "niedrig"
    values = dict(claims)
    if isinstance(tokens.get("access_token"), str) and metadata.get("userinfo_endpoint"):
        info = await http.get(
            metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        if info.status_code == 200 and info.json().get("sub") == claims["sub"]:
            values |= info.json()
    source = f"idp:{provider.name}"
    attributes = [
        VerifiedAttribute(name, values[name], lowest(level, provider.attribute_levels.get(name, level)), source)
        for name in MAPPED_CLAIMS
        if name in values and name != "email"
    ]
    return claims["sub"], level, attributes
