"""Helpers of the identity tests: settings, clients registered directly, tokens from /token, time travel."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from typing import Any

import httpx
from fastapi import FastAPI
from joserfc import jwt
from sqlalchemy import Interval, literal, update

from kit.auth.jwks import parse_jwks
from kit.db import utcnow
from services.identity.clients.schemas import ClientSettings, ClientWithSecret
from services.identity.clients.service import register_client
from services.identity.config import Settings
from services.identity.keys.manager import SigningKeyManager
from services.identity.keys.models import SigningKey
from services.identity.runtime import Identity

ISSUER = "http://identity.test"
KEY_ENCRYPTION_KEY = base64.b64encode(os.urandom(32)).decode()
PEPPER = base64.b64encode(os.urandom(32)).decode()


def identity_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings of an identity app under test: fixed secrets, and a background refresh too rare to interfere."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": "127.0.0.1:1",
        "issuer": ISSUER,
        "key_encryption_key": KEY_ENCRYPTION_KEY,
        "client_secret_pepper": PEPPER,
        "signing_key_refresh_interval": dt.timedelta(minutes=10),
    }
    return Settings(**(values | overrides))


def identity_of(app: FastAPI) -> Identity:
    """The identity state of a started app."""
    identity: Identity = app.state.identity
    return identity


async def register(app: FastAPI, tenant: str = "st", **fields: Any) -> ClientWithSecret:
    """Register a client straight through the service layer (defaults: a confidential back-end of `tenant`)."""
    settings = {
        "name": "Fachverfahren",
        "type": "confidential",
        "grant_types": ["client_credentials"],
        "scopes": ["payment:read", "payment:write"],
        "audiences": ["payment", "https://api.example/payment"],
    } | fields
    identity = identity_of(app)
    async with identity.database.session() as session, session.begin():
        return await register_client(session, tenant, ClientSettings(**settings), identity.secrets, utcnow())


def header_of(token: str) -> dict[str, Any]:
    """The (unverified) JOSE header of a compact JWS."""
    segment = token.split(".")[0]
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return header


async def verified_claims(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    """The claims of a token, its signature checked with joserfc against the served JWKS."""
    keys = parse_jwks((await client.get("/jwks")).json())
    claims: dict[str, Any] = jwt.decode(token, keys[header_of(token)["kid"]], algorithms=["ES256", "RS256"]).claims
    return claims


def basic(client_id: str, secret: str | None) -> dict[str, str]:
    """The Authorization header of client_secret_basic."""
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def token_for(client: httpx.AsyncClient, registered: ClientWithSecret, **form: str) -> str:
    """An access token from /token for a registered client (client credentials, HTTP Basic)."""
    response = await client.post(
        "/token",
        data={"grant_type": "client_credentials", **form},
        headers=basic(registered.client_id, registered.client_secret),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def admin_headers(client: httpx.AsyncClient, app: FastAPI, tenant: str) -> dict[str, str]:
    """A bearer header of an administrator of `tenant`, with a token the identity service issued itself."""
    admin = await register(app, tenant, name="Admin", scopes=["identity:admin"], audiences=["identity"])
    return {"Authorization": f"Bearer {await token_for(client, admin)}"}


async def travel(app: FastAPI, delta: dt.timedelta) -> None:
    """Let `delta` pass for the signing keys: move every key timestamp back, then run the key manager."""
    identity = identity_of(app)
    back = literal(delta, Interval())
    async with identity.database.session() as session, session.begin():
        await session.execute(
            update(SigningKey).values(
                published_at=SigningKey.published_at - back,
                activates_at=SigningKey.activates_at - back,
                retires_at=SigningKey.retires_at - back,
                removes_at=SigningKey.removes_at - back,
                removed_at=SigningKey.removed_at - back,
            )
        )
    await SigningKeyManager(identity.database, identity.ring, identity.settings).refresh()
