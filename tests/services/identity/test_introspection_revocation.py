"""Introspection (RFC 7662) inside one tenant, and revocation (RFC 7009) of a client's own access tokens."""

import datetime as dt
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from kit.auth.testing import TokenFactory
from kit.db import utcnow
from services.identity.clients.schemas import ClientWithSecret
from services.identity.oauth.housekeeping import TokenHousekeeping
from services.identity.oauth.models import RevokedToken, UsedClientAssertion
from tests.services.identity.support import ISSUER, basic, identity_of, register, token_for

INACTIVE = {"active": False}


@pytest.fixture(scope="module")
async def backend(app: FastAPI, client: httpx.AsyncClient) -> ClientWithSecret:
    return await register(app, "st")


@pytest.fixture(scope="module")
async def resource_server(app: FastAPI, client: httpx.AsyncClient) -> ClientWithSecret:
    """Another client of the same tenant, which checks tokens presented to it."""
    return await register(app, "st", name="Zahlungsdienst")


@pytest.fixture(scope="module")
async def stranger(app: FastAPI, client: httpx.AsyncClient) -> ClientWithSecret:
    return await register(app, "by")


async def introspect(client: httpx.AsyncClient, caller: ClientWithSecret, token: str, **form: str) -> httpx.Response:
    return await client.post(
        "/introspect", data={"token": token, **form}, headers=basic(caller.client_id, caller.client_secret)
    )


async def revoke(client: httpx.AsyncClient, caller: ClientWithSecret, token: str, **form: str) -> httpx.Response:
    return await client.post(
        "/revoke", data={"token": token, **form}, headers=basic(caller.client_id, caller.client_secret)
    )


def sign(app: FastAPI, **claims: Any) -> str:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "sub": "c",
        "aud": "payment",
        "exp": now + 60,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "client_id": "c",
        "tenant": "st",
    }
    return (
        identity_of(app)
        .ring.signer()
        .sign({name: value for name, value in (base | claims).items() if value is not None})
    )


async def test_an_active_token_is_described(client, backend, resource_server) -> None:
    token = await token_for(client, backend, scope="payment:read", audience="payment")
    response = await introspect(client, resource_server, token)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "payment:read"
    assert body["client_id"] == body["sub"] == backend.client_id
    assert body["aud"] == "payment"
    assert body["iss"] == ISSUER
    assert body["tenant"] == "st"
    assert body["exp"] - body["iat"] == 300
    uuid.UUID(body["jti"])


async def test_another_tenants_client_learns_nothing(client, backend, stranger) -> None:
    token = await token_for(client, backend)
    response = await introspect(client, stranger, token)
    assert response.status_code == 200
    assert response.json() == INACTIVE


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 1},
        {"iss": "https://elsewhere.example"},
        {"jti": None},
        {"tenant": None},
    ],
)
async def test_tokens_that_are_not_active_say_only_so(app, client, resource_server, claims) -> None:
    response = await introspect(client, resource_server, sign(app, **claims))
    assert response.json() == INACTIVE


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "x" * 8000, TokenFactory(issuer=ISSUER, audience="payment").issue(tenant="st")],
)
async def test_foreign_and_malformed_tokens_are_inactive(client, resource_server, token: str) -> None:
    assert (await introspect(client, resource_server, token)).json() == INACTIVE


async def test_an_id_token_typed_jwt_is_not_an_access_token(app, client, resource_server) -> None:
    now = int(time.time())
    id_token = (
        identity_of(app)
        .ring.signer()
        .sign(
            {"iss": ISSUER, "sub": "c", "aud": "x", "exp": now + 60, "iat": now, "jti": "j", "tenant": "st"}, typ="JWT"
        )
    )
    assert (await introspect(client, resource_server, id_token)).json() == INACTIVE


async def test_introspection_requires_client_authentication(app, client, backend) -> None:
    token = await token_for(client, backend)
    anonymous = await client.post("/introspect", data={"token": token})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "invalid_client"
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    wrong = await client.post("/introspect", data={"token": token}, headers=basic(backend.client_id, "wrong"))
    assert wrong.status_code == 401
    spa = await register(
        app,
        "st",
        type="public",
        grant_types=["authorization_code"],
        redirect_uris=["https://spa.example/cb"],
        audiences=[],
    )
    public = await client.post("/introspect", data={"token": token, "client_id": spa.client_id})
    assert public.status_code == 401
    assert public.json()["error"] == "invalid_client"


@pytest.mark.parametrize("path", ["/introspect", "/revoke"])
async def test_a_missing_token_is_invalid_request(client, backend, path: str) -> None:
    response = await client.post(
        path, data={"token_type_hint": "access_token"}, headers=basic(backend.client_id, backend.client_secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("path", ["/introspect", "/revoke"])
async def test_a_body_that_is_not_a_form_is_invalid_request(client, backend, path: str) -> None:
    response = await client.post(path, json={"token": "x"}, headers=basic(backend.client_id, backend.client_secret))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_a_revoked_token_is_inactive_until_it_would_have_expired(app, client, backend, resource_server) -> None:
    token = await token_for(client, backend)
    jti = (await introspect(client, resource_server, token)).json()["jti"]
    response = await revoke(client, backend, token, token_type_hint="access_token")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert (await introspect(client, resource_server, token)).json() == INACTIVE
    assert (await revoke(client, backend, token)).status_code == 200  # again: nothing more to do
    async with identity_of(app).database.session() as session:
        stored = await session.scalar(select(RevokedToken).where(RevokedToken.token_id == jti))
    assert stored is not None
    assert stored.token_type == "access_token"
    assert stored.client_id == backend.client_id
    assert stored.tenant == "st"
    assert abs((stored.expires_at - stored.revoked_at).total_seconds() - 300) < 5


async def test_a_wrong_hint_does_not_stop_revocation(client, backend, resource_server) -> None:
    token = await token_for(client, backend)
    assert (await revoke(client, backend, token, token_type_hint="refresh_token")).status_code == 200
    assert (await introspect(client, resource_server, token)).json() == INACTIVE


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
async def test_revoking_something_that_is_no_token_of_ours_is_answered_200(client, backend, token: str) -> None:
    assert (await revoke(client, backend, token)).status_code == 200


async def test_a_client_cannot_revoke_another_clients_token(client, backend, resource_server, stranger) -> None:
    token = await token_for(client, backend)
    for other in (resource_server, stranger):
        response = await revoke(client, other, token)
        assert response.status_code == 400
        assert response.json()["error"] == "unauthorized_client"
    assert (await introspect(client, resource_server, token)).json()["active"] is True


async def test_revocation_requires_client_authentication(client, backend) -> None:
    token = await token_for(client, backend)
    response = await client.post("/revoke", data={"token": token})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_housekeeping_forgets_revocations_and_assertions_past_their_expiry(app, client) -> None:
    identity = identity_of(app)
    long_ago = utcnow() - dt.timedelta(hours=1)
    async with identity.database.session() as session, session.begin():
        session.add(
            RevokedToken(
                token_id="old",
                token_type="access_token",
                client_id="c",
                tenant="st",
                subject="c",
                revoked_at=long_ago,
                expires_at=long_ago,
            )
        )
        session.add(
            RevokedToken(
                token_id="young",
                token_type="access_token",
                client_id="c",
                tenant="st",
                subject="c",
                revoked_at=long_ago,
                expires_at=utcnow() + dt.timedelta(minutes=5),
            )
        )
        session.add(UsedClientAssertion(client_id="c", jti="old", expires_at=long_ago))
    assert await TokenHousekeeping(identity.database, identity.settings).purge() >= 2
    async with identity.database.session() as session:
        left = set(await session.scalars(select(RevokedToken.token_id)))
        assertions = set(await session.scalars(select(UsedClientAssertion.jti)))
    assert "old" not in left and "young" in left
    assert "old" not in assertions
