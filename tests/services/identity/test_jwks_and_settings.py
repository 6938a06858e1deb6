"""The JWKS endpoint, readiness, and the settings that keep the rotation guarantees."""

import datetime as dt
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from kit.db import migrate
from kit.service import Role
from kit.testing import service_client
from services.identity.app import SPEC, create_app
from services.identity.config import Settings
from tests.services.identity.support import ISSUER, basic, identity_settings, register, travel


async def test_the_jwks_is_public_cacheable_and_holds_public_keys_only(client: httpx.AsyncClient) -> None:
    response = await client.get("/jwks")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=300"
    keys = response.json()["keys"]
    assert keys
    for jwk in keys:
        assert jwk["use"] == "sig"
        assert jwk["alg"] == "ES256"
        assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & jwk.keys()
    unchanged = await client.get("/jwks", headers={"If-None-Match": response.headers["etag"]})
    assert unchanged.status_code == 304
    assert unchanged.headers["etag"] == response.headers["etag"]
    assert (await client.get("/jwks", headers={"If-None-Match": '"other"'})).status_code == 200


async def test_readiness_waits_for_a_signing_key(client: httpx.AsyncClient) -> None:
    # No broker in these tests, so the process as a whole is not ready; the keys are.
    checks = (await client.get("/health/ready")).json()["checks"]
    assert checks["signing_keys"] == "ok"
    assert checks["token_housekeeping"] == "ok"


@pytest.fixture(scope="module")
async def dual_client(identity_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A second process on the same database, configured for ES256 and RS256 (RSA keys of 2048 bits)."""
    settings = identity_settings(identity_url, signing_algorithms=["ES256", "RS256"], rsa_key_bits=2048)
    app: FastAPI = create_app(settings, Role.API)
    async with service_client(app, base_url=ISSUER) as client:
        yield client


async def test_rs256_keys_are_published_beside_es256(dual_client: httpx.AsyncClient) -> None:
    keys = (await dual_client.get("/jwks")).json()["keys"]
    assert {jwk["alg"] for jwk in keys} == {"ES256", "RS256"}
    rsa = next(jwk for jwk in keys if jwk["alg"] == "RS256")
    assert rsa["kty"] == "RSA" and rsa["e"] == "AQAB"
    metadata = (await dual_client.get("/.well-known/openid-configuration")).json()
    assert metadata["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]


async def test_without_configured_secrets_a_development_process_works_and_warns(infrastructure, caplog) -> None:
    # A database of its own: a process with another key encryption key replaces the keys it cannot use.
    url = await infrastructure.create_database("identity_dev")
    try:
        await migrate(url, SPEC.migrations_dir)
        settings = identity_settings(url, key_encryption_key=None, client_secret_pepper=None)
        with caplog.at_level(logging.WARNING):
            app: FastAPI = create_app(settings, Role.API)
            async with service_client(app, base_url=ISSUER) as client:
                registered = await register(app, "st")
                headers = basic(registered.client_id, registered.client_secret)
                response = await client.post("/token", data={"grant_type": "client_credentials"}, headers=headers)
                assert response.status_code == 200, response.text
    finally:
        await infrastructure.drop_database(url)
    assert "IDENTITY_KEY_ENCRYPTION_KEY is not set" in caplog.text
    assert "IDENTITY_CLIENT_SECRET_PEPPER is not set" in caplog.text


def test_the_issuer_defaults_to_the_identity_url_without_a_trailing_slash() -> None:
    assert Settings(issuer="https://portal.example/identity/").resolved_issuer() == "https://portal.example/identity"
    assert Settings(identity_url="http://127.0.0.1:8001/").resolved_issuer() == "http://127.0.0.1:8001"


@pytest.mark.parametrize(
    "values",
    [
        # The next key must be published for longer than verifiers cache the JWKS.
        {"jwks_max_age": 3600, "signing_key_publish_lead": dt.timedelta(minutes=30)},
        {"signing_key_publish_lead": dt.timedelta(minutes=5)},
        {"signing_key_rotation_interval": dt.timedelta(minutes=30)},
        {"signing_key_refresh_interval": dt.timedelta(0)},
        {"signing_algorithms": ["ES256", "ES256"]},
        {"signing_algorithms": []},
        {"signing_algorithms": ["HS256"]},
        {"rsa_key_bits": 1024},
        {"access_token_lifetime": 30},
        {"issuer": "portal.example/identity"},
        {"issuer": "https://portal.example/identity?x=1"},
        {"issuer": "https://portal.example/identity#x"},
        {"issuer": "ftp://portal.example"},
    ],
)
def test_settings_that_would_break_the_guarantees_are_refused(values) -> None:
    with pytest.raises(ValidationError):
        Settings(**values)


def test_keys_are_kept_until_every_token_they_signed_has_expired() -> None:
    settings = Settings(clock_skew=60, signing_key_refresh_interval=dt.timedelta(seconds=30))
    # The longest access token (1 h), the longest ID token (1 h), the skew, and one refresh interval.
    assert settings.key_retention() == dt.timedelta(hours=2, seconds=90)


def test_settings_are_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("IDENTITY_SIGNING_ALGORITHMS", '["RS256"]')
    monkeypatch.setenv("IDENTITY_SIGNING_KEY_ROTATION_INTERVAL", "P7D")
    monkeypatch.setenv("IDENTITY_KEY_ENCRYPTION_KEY", "x" * 44)
    settings = Settings()
    assert settings.signing_algorithms == ["RS256"]
    assert settings.signing_key_rotation_interval == dt.timedelta(days=7)
    assert "x" * 44 not in repr(settings)


async def test_while_no_key_signs_the_token_endpoint_answers_503(app: FastAPI, client: httpx.AsyncClient) -> None:
    registered = await register(app, "st")
    headers = basic(registered.client_id, registered.client_secret)
    await travel(app, -dt.timedelta(days=1))  # every key activates tomorrow
    try:
        response = await client.post("/token", data={"grant_type": "client_credentials"}, headers=headers)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert (await client.get("/health/ready")).json()["checks"]["signing_keys"] != "ok"
    finally:
        await travel(app, dt.timedelta(days=1))
    assert (await client.post("/token", data={"grant_type": "client_credentials"}, headers=headers)).status_code == 200
