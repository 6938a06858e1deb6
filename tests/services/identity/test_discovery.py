"""Discovery: OpenID Connect Discovery 1.0 and RFC 8414 metadata, every endpoint under the issuer URL."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from kit.service import Role
from kit.testing import service_client
from services.identity.app import create_app
from tests.services.identity.support import ISSUER, identity_settings

#: OIDC Discovery 1.0 §3: REQUIRED (and RECOMMENDED ones we serve).
REQUIRED = {
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
}
RECOMMENDED = {"userinfo_endpoint", "scopes_supported", "claims_supported"}


async def test_openid_configuration_carries_every_required_field(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "max-age" in response.headers["cache-control"]
    metadata = response.json()
    assert metadata.keys() >= REQUIRED | RECOMMENDED
    assert metadata["issuer"] == ISSUER
    assert metadata["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert metadata["token_endpoint"] == f"{ISSUER}/token"
    assert metadata["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    assert metadata["jwks_uri"] == f"{ISSUER}/jwks"
    assert metadata["end_session_endpoint"] == f"{ISSUER}/logout"
    assert metadata["introspection_endpoint"] == f"{ISSUER}/introspect"
    assert metadata["revocation_endpoint"] == f"{ISSUER}/revoke"
    assert "registration_endpoint" not in metadata  # clients are registered through the admin API
    assert metadata["response_types_supported"] == ["code"]
    assert set(metadata["subject_types_supported"]) == {"public", "pairwise"}
    assert metadata["id_token_signing_alg_values_supported"] == ["ES256"]
    assert "openid" in metadata["scopes_supported"]
    assert {"sub", "acr", "auth_time", "nonce"} <= set(metadata["claims_supported"])
    assert set(metadata["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["acr_values_supported"] == ["niedrig", "substanziell", "hoch"]
    assert metadata["backchannel_logout_supported"] is True
    assert {"client_secret_basic", "client_secret_post", "private_key_jwt"} <= set(
        metadata["token_endpoint_auth_methods_supported"]
    )
    # Both default to true when absent, and we support neither.
    assert metadata["request_uri_parameter_supported"] is False
    assert metadata["request_parameter_supported"] is False


async def test_every_advertised_endpoint_of_this_part_answers(client: httpx.AsyncClient) -> None:
    metadata = (await client.get("/.well-known/openid-configuration")).json()
    assert (await client.get(metadata["jwks_uri"])).status_code == 200
    for name in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
        answer = await client.post(metadata[name], data={})
        assert answer.status_code in (400, 401), name
        assert "error" in answer.json()


async def test_rfc8414_metadata_is_the_same_document(client: httpx.AsyncClient) -> None:
    openid = (await client.get("/.well-known/openid-configuration")).json()
    oauth = await client.get("/.well-known/oauth-authorization-server")
    assert oauth.status_code == 200
    assert oauth.json() == openid


@pytest.fixture(scope="module")
async def gateway_client(identity_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = identity_settings(identity_url, issuer="https://portal.example/identity/")
    app: FastAPI = create_app(settings, Role.API)
    async with service_client(app, base_url="https://portal.example") as client:
        yield client


async def test_an_issuer_behind_the_gateway_prefixes_every_endpoint(gateway_client: httpx.AsyncClient) -> None:
    metadata = (await gateway_client.get("/.well-known/openid-configuration")).json()
    assert metadata["issuer"] == "https://portal.example/identity"
    assert metadata["token_endpoint"] == "https://portal.example/identity/token"
    assert metadata["jwks_uri"] == "https://portal.example/identity/jwks"
    # RFC 8414 §3: the metadata of an issuer with a path lives at the well-known URI plus that path.
    with_path = await gateway_client.get("/.well-known/oauth-authorization-server/identity")
    assert with_path.status_code == 200
    assert with_path.json() == metadata
    other = await gateway_client.get("/.well-known/oauth-authorization-server/payment")
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"


async def test_an_issuer_without_a_path_has_no_path_form(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/oauth-authorization-server/identity")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_discovery_rejects_other_methods_with_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/.well-known/openid-configuration")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
