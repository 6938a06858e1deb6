"""The token endpoint: client credentials with every client authentication method, and every error exactly
as RFC 6749 §5.2 (and RFC 8707) spell it."""

import base64
import json
import re
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from services.identity.clients.schemas import ClientWithSecret
from tests.services.identity.support import ISSUER, basic, header_of, identity_of, register, verified_claims

GRANT = {"grant_type": "client_credentials"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: RFC 6749 §5.2: error_description characters.
DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5B\x5D-\x7E]*")


@pytest.fixture(scope="module")
async def backend(app: FastAPI, client: httpx.AsyncClient) -> ClientWithSecret:
    return await register(app, "st")


def assert_oauth_error(response: httpx.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    assert set(body) <= {"error", "error_description", "error_uri"}
    assert DESCRIPTION.fullmatch(body.get("error_description", ""))
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic ")


async def test_client_secret_basic_gets_an_rfc9068_access_token(client, backend) -> None:
    response = await client.post("/token", data=GRANT, headers=basic(backend.client_id, backend.client_secret))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "payment:read payment:write"
    token = body["access_token"]
    header = header_of(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    claims = await verified_claims(client, token)
    assert claims["iss"] == ISSUER
    assert claims["sub"] == backend.client_id
    assert claims["client_id"] == backend.client_id
    assert claims["tenant"] == "st"
    assert claims["aud"] == ["payment", "https://api.example/payment"]
    assert claims["exp"] - claims["iat"] == 300
    assert abs(claims["iat"] - time.time()) < 5
    uuid.UUID(claims["jti"])
    assert "acr" not in claims  # no user


async def test_client_secret_post_is_accepted_too(client, backend) -> None:
    data = GRANT | {"client_id": backend.client_id, "client_secret": backend.client_secret}
    response = await client.post("/token", data=data)
    assert response.status_code == 200, response.text


async def test_basic_credentials_are_form_decoded(app, client) -> None:
    # RFC 6749 §2.3.1: id and secret are form-encoded before they go into Basic; ours need no encoding,
    # so an encoded form of the same characters must work as well.
    registered = await register(app, "st")
    encoded_id = "".join(f"%{byte:02X}" for byte in registered.client_id.encode())
    raw = f"{encoded_id}:{registered.client_secret}".encode()
    response = await client.post(
        "/token", data=GRANT, headers={"Authorization": "Basic " + base64.b64encode(raw).decode()}
    )
    assert response.status_code == 200, response.text


async def test_the_client_id_in_the_body_must_match_basic(client, backend) -> None:
    headers = basic(backend.client_id, backend.client_secret)
    same = await client.post("/token", data=GRANT | {"client_id": backend.client_id}, headers=headers)
    assert same.status_code == 200
    other = await client.post("/token", data=GRANT | {"client_id": "someone-else"}, headers=headers)
    assert_oauth_error(other, "invalid_request")


async def test_scopes_are_down_selected(client, backend) -> None:
    response = await client.post(
        "/token", data=GRANT | {"scope": "payment:read"}, headers=basic(backend.client_id, backend.client_secret)
    )
    assert response.json()["scope"] == "payment:read"
    assert (await verified_claims(client, response.json()["access_token"]))["scope"] == "payment:read"


@pytest.mark.parametrize(
    "scope", ["payment:admin", "payment:read payment:admin", "openid", "payment:read  payment:write", 'a"b', " "]
)
async def test_a_scope_the_client_may_not_have_is_invalid_scope(client, backend, scope: str) -> None:
    response = await client.post(
        "/token", data=GRANT | {"scope": scope}, headers=basic(backend.client_id, backend.client_secret)
    )
    assert_oauth_error(response, "invalid_scope")


async def test_audiences_are_chosen_with_resource_and_audience(client, backend) -> None:
    headers = basic(backend.client_id, backend.client_secret)
    by_name = await client.post("/token", data=GRANT | {"audience": "payment"}, headers=headers)
    assert (await verified_claims(client, by_name.json()["access_token"]))["aud"] == "payment"
    by_resource = await client.post("/token", data=GRANT | {"resource": "https://api.example/payment"}, headers=headers)
    assert (await verified_claims(client, by_resource.json()["access_token"]))["aud"] == "https://api.example/payment"
    both = await client.post(
        "/token",
        content="grant_type=client_credentials&audience=payment&resource=https%3A%2F%2Fapi.example%2Fpayment",
        headers=headers | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (await verified_claims(client, both.json()["access_token"]))["aud"] == [
        "https://api.example/payment",
        "payment",
    ]


@pytest.mark.parametrize(
    "form",
    [
        {"audience": "catalogue"},
        {"resource": "https://api.example/catalogue"},
        {"resource": "payment"},  # not an absolute URI
        {"resource": "https://api.example/payment#frag"},
    ],
)
async def test_an_audience_the_client_may_not_address_is_invalid_target(client, backend, form) -> None:
    response = await client.post("/token", data=GRANT | form, headers=basic(backend.client_id, backend.client_secret))
    assert_oauth_error(response, "invalid_target")


async def test_the_client_lifetime_applies(app, client) -> None:
    registered = await register(app, "st", access_token_lifetime=60)
    response = await client.post("/token", data=GRANT, headers=basic(registered.client_id, registered.client_secret))
    assert response.json()["expires_in"] == 60
    claims = await verified_claims(client, response.json()["access_token"])
    assert claims["exp"] - claims["iat"] == 60


# --- client authentication -------------------------------------------------------------------------


async def test_a_wrong_secret_is_invalid_client_with_a_challenge(client, backend) -> None:
    response = await client.post("/token", data=GRANT, headers=basic(backend.client_id, "wrong"))
    assert_oauth_error(response, "invalid_client", 401)


async def test_an_unknown_client_is_invalid_client(client) -> None:
    response = await client.post("/token", data=GRANT, headers=basic("no-such-client", "secret"))
    assert_oauth_error(response, "invalid_client", 401)


async def test_no_credentials_is_invalid_client(client) -> None:
    assert_oauth_error(await client.post("/token", data=GRANT), "invalid_client", 401)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer abc",
        "Basic " + base64.b64encode(b"\xff:x").decode(),
    ],
)
async def test_malformed_basic_credentials_are_invalid_client(client, authorization: str) -> None:
    response = await client.post("/token", data=GRANT, headers={"Authorization": authorization})
    assert_oauth_error(response, "invalid_client", 401)


async def test_two_authentication_methods_are_invalid_request(client, backend) -> None:
    data = GRANT | {"client_secret": backend.client_secret}
    response = await client.post("/token", data=data, headers=basic(backend.client_id, backend.client_secret))
    assert_oauth_error(response, "invalid_request")


async def test_a_confidential_client_sending_only_its_id_is_invalid_client(client, backend) -> None:
    response = await client.post("/token", data=GRANT | {"client_id": backend.client_id})
    assert_oauth_error(response, "invalid_client", 401)


async def test_an_empty_secret_counts_as_absent(client, backend) -> None:
    response = await client.post("/token", data=GRANT | {"client_id": backend.client_id, "client_secret": ""})
    assert_oauth_error(response, "invalid_client", 401)


async def test_an_overlong_secret_is_refused_without_hashing_it(client, backend) -> None:
    response = await client.post("/token", data=GRANT, headers=basic(backend.client_id, "x" * 5000))
    assert_oauth_error(response, "invalid_client", 401)


# --- the request itself ----------------------------------------------------------------------------


async def test_a_missing_grant_type_is_invalid_request(client, backend) -> None:
    response = await client.post("/token", data={}, headers=basic(backend.client_id, backend.client_secret))
    assert_oauth_error(response, "invalid_request")


@pytest.mark.parametrize("grant_type", ["password", "implicit", "urn:x"])
async def test_other_grant_types_are_unsupported(client, backend, grant_type: str) -> None:
    response = await client.post(
        "/token", data={"grant_type": grant_type}, headers=basic(backend.client_id, backend.client_secret)
    )
    assert_oauth_error(response, "unsupported_grant_type")


@pytest.mark.parametrize("grant_type", ["authorization_code", "refresh_token"])
async def test_user_grants_are_refused_to_a_client_not_registered_for_them(client, backend, grant_type: str) -> None:
    response = await client.post(
        "/token", data={"grant_type": grant_type}, headers=basic(backend.client_id, backend.client_secret)
    )
    assert_oauth_error(response, "unauthorized_client")


async def test_a_client_not_registered_for_the_grant_is_unauthorized_client(app, client) -> None:
    portal = await register(
        app, "st", grant_types=["authorization_code"], redirect_uris=["https://portal.example/cb"], audiences=[]
    )
    response = await client.post("/token", data=GRANT, headers=basic(portal.client_id, portal.client_secret))
    assert_oauth_error(response, "unauthorized_client")


async def test_a_public_client_cannot_use_client_credentials(app, client) -> None:
    spa = await register(
        app,
        "st",
        type="public",
        grant_types=["authorization_code"],
        redirect_uris=["https://spa.example/cb"],
        audiences=[],
    )
    response = await client.post("/token", data=GRANT | {"client_id": spa.client_id})
    assert_oauth_error(response, "unauthorized_client")


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x", ""])
async def test_a_body_that_is_not_a_form_is_invalid_request(client, backend, content_type: str) -> None:
    headers = basic(backend.client_id, backend.client_secret) | {"Content-Type": content_type}
    response = await client.post("/token", content=b"grant_type=client_credentials", headers=headers)
    assert_oauth_error(response, "invalid_request")


async def test_a_form_with_charset_is_accepted(client, backend) -> None:
    headers = basic(backend.client_id, backend.client_secret) | {
        "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"
    }
    response = await client.post("/token", content=b"grant_type=client_credentials", headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=client_credentials&grant_type=client_credentials",
        b"grant_type=client_credentials&scope=a&scope=b",
        b"grant_type=client_credentials&scope=%FF",
        b"grant_type=client_credentials&" + b"&".join(b"p%d=1" % n for n in range(100)),
        b"grant_type=client_credentials&scope=" + b"a" * 9000,
    ],
)
async def test_malformed_forms_are_invalid_request(client, backend, body: bytes) -> None:
    headers = basic(backend.client_id, backend.client_secret) | {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post("/token", content=body, headers=headers)
    assert_oauth_error(response, "invalid_request")


async def test_unknown_parameters_are_ignored(client, backend) -> None:
    response = await client.post(
        "/token", data=GRANT | {"foo": "bar"}, headers=basic(backend.client_id, backend.client_secret)
    )
    assert response.status_code == 200


async def test_an_oversized_body_is_refused_before_it_is_read(client, backend) -> None:
    headers = basic(backend.client_id, backend.client_secret) | {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post("/token", content=b"grant_type=client_credentials&x=" + b"a" * 20_000, headers=headers)
    assert response.status_code == 413


async def test_get_is_not_allowed(client) -> None:
    response = await client.get("/token")
    assert response.status_code == 405


# --- private_key_jwt (RFC 7523) --------------------------------------------------------------------


@pytest.fixture(scope="module")
def client_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "client-key-1"})


@pytest.fixture(scope="module")
async def jwt_client(app, client, client_key: ECKey) -> ClientWithSecret:
    public = client_key.as_dict(private=False)
    return await register(app, "st", token_endpoint_auth_method="private_key_jwt", jwks={"keys": [public]})


def assertion(client_id: str, key: ECKey | RSAKey, alg: str = "ES256", **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{ISSUER}/token",
        "exp": now + 60,
        "iat": now,
        "jti": str(uuid.uuid4()),
    } | overrides
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def with_assertion(value: str) -> dict[str, str]:
    return GRANT | {"client_assertion_type": ASSERTION_TYPE, "client_assertion": value}


async def test_private_key_jwt_authenticates_once_per_assertion(client, jwt_client, client_key) -> None:
    signed = assertion(jwt_client.client_id, client_key)
    first = await client.post("/token", data=with_assertion(signed))
    assert first.status_code == 200, first.text
    assert jwt_client.client_secret is None
    replay = await client.post("/token", data=with_assertion(signed))
    assert_oauth_error(replay, "invalid_client", 401)


async def test_the_issuer_is_an_accepted_assertion_audience(client, jwt_client, client_key) -> None:
    response = await client.post("/token", data=with_assertion(assertion(jwt_client.client_id, client_key, aud=ISSUER)))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://elsewhere.example/token"},
        {"exp": int(time.time()) - 3600},
        {"exp": int(time.time()) + 3600},  # far too long for a one-time proof
        {"exp": None},
        {"jti": None},
        {"sub": "someone-else"},
        {"nbf": int(time.time()) + 3600},
    ],
)
async def test_bad_assertions_are_invalid_client(client, jwt_client, client_key, overrides) -> None:
    response = await client.post(
        "/token", data=with_assertion(assertion(jwt_client.client_id, client_key, **overrides))
    )
    assert_oauth_error(response, "invalid_client", 401)


async def test_an_assertion_signed_with_another_key_is_invalid_client(client, jwt_client) -> None:
    stranger = ECKey.generate_key("P-256", parameters={"kid": "client-key-1"})
    response = await client.post("/token", data=with_assertion(assertion(jwt_client.client_id, stranger)))
    assert_oauth_error(response, "invalid_client", 401)


@pytest.mark.parametrize("value", ["not-a-jwt", "a.b.c", "e30.e30.", "x" * 8000 + ".y.z"])
async def test_garbage_assertions_are_invalid_client(client, value: str) -> None:
    assert_oauth_error(await client.post("/token", data=with_assertion(value)), "invalid_client", 401)


async def test_an_unsigned_assertion_is_invalid_client(client, jwt_client) -> None:
    def segment(value: str) -> str:
        return base64.urlsafe_b64encode(value.encode()).rstrip(b"=").decode()

    claims = json.dumps(
        {
            "iss": jwt_client.client_id,
            "sub": jwt_client.client_id,
            "aud": f"{ISSUER}/token",
            "exp": int(time.time()) + 60,
            "jti": "x",
        }
    )
    none_header = segment('{"alg":"none"}')
    unsigned = f"{none_header}.{segment(claims)}.AA"
    assert_oauth_error(await client.post("/token", data=with_assertion(unsigned)), "invalid_client", 401)


async def test_a_wrong_assertion_type_is_invalid_client(client, jwt_client, client_key) -> None:
    data = GRANT | {"client_assertion_type": "urn:x", "client_assertion": assertion(jwt_client.client_id, client_key)}
    assert_oauth_error(await client.post("/token", data=data), "invalid_client", 401)


async def test_a_secret_client_cannot_use_an_assertion_nor_a_jwt_client_a_secret(
    client, backend, jwt_client, client_key
) -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "k"})
    response = await client.post("/token", data=with_assertion(assertion(backend.client_id, key)))
    assert_oauth_error(response, "invalid_client", 401)
    response = await client.post("/token", data=GRANT, headers=basic(jwt_client.client_id, "anything"))
    assert_oauth_error(response, "invalid_client", 401)


# --- the client cache --------------------------------------------------------------------------------


async def test_the_client_is_cached_between_requests(app, client, backend) -> None:
    identity = identity_of(app)
    await client.post("/token", data=GRANT, headers=basic(backend.client_id, backend.client_secret))
    queries = 0
    original = identity.database.session

    def counting_session():
        nonlocal queries
        queries += 1
        return original()

    identity.database.session = counting_session  # type: ignore[method-assign]
    try:
        response = await client.post("/token", data=GRANT, headers=basic(backend.client_id, backend.client_secret))
    finally:
        identity.database.session = original  # type: ignore[method-assign]
    assert response.status_code == 200
    assert queries == 0
