"""The admin API of clients: registration rules, secrets shown once, changes that take effect at once, and
tenants that never see each other's clients."""

import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import select

from services.identity.clients.models import Client
from tests.services.identity.support import ISSUER, admin_headers, basic, identity_of, register

BACKEND = {
    "name": "Gewerbeamt Fachverfahren",
    "type": "confidential",
    "grant_types": ["client_credentials"],
    "scopes": ["payment:read"],
    "audiences": ["payment"],
}
PORTAL = {
    "name": "Landesportal",
    "type": "confidential",
    "grant_types": ["authorization_code", "refresh_token"],
    "redirect_uris": ["https://portal.example/callback", "http://localhost:8080/callback"],
    "scopes": ["openid", "profile"],
    "backchannel_logout_uri": "https://portal.example/logout",
    "subject_type": "pairwise",
    "sector_identifier_uri": "https://portal.example/sector.json",
    "audiences": [],
}


@pytest.fixture(scope="module")
async def st(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    return await admin_headers(client, app, "st")


@pytest.fixture(scope="module")
async def by(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    return await admin_headers(client, app, "by")


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    if slug is not None:
        assert body["type"] == f"urn:basisdienste:problem:{slug}"
    return body


async def create(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = await client.post("/admin/clients", json=BACKEND | fields, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def token_status(client: httpx.AsyncClient, client_id: str, secret: str | None) -> int:
    response = await client.post("/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    return response.status_code


async def test_registration_shows_the_secret_once_and_stores_only_its_hash(app, client, st) -> None:
    response = await client.post("/admin/clients", json=BACKEND, headers=st)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert response.headers["location"] == f"{ISSUER}/admin/clients/{created['client_id']}"
    assert created["tenant"] == "st"
    assert created["token_endpoint_auth_method"] == "client_secret_basic"
    assert len(created["client_secret"]) >= 43
    read = (await client.get(f"/admin/clients/{created['client_id']}", headers=st)).json()
    assert "client_secret" not in read
    assert read["secret_rotated_at"] == created["secret_rotated_at"]
    async with identity_of(app).database.session() as session:
        stored = await session.scalar(select(Client).where(Client.client_id == created["client_id"]))
    assert stored is not None and stored.secret_hash is not None
    assert created["client_secret"].encode() not in stored.secret_hash
    assert len(stored.secret_hash) == 32
    assert await token_status(client, created["client_id"], created["client_secret"]) == 200


async def test_a_portal_with_every_setting_is_registered(client, st) -> None:
    created = await create(client, st, **PORTAL)
    assert created["redirect_uris"] == PORTAL["redirect_uris"]
    assert created["subject_type"] == "pairwise"
    assert created["audiences"] == []


async def test_a_public_client_has_no_secret(client, st) -> None:
    created = await create(
        client,
        st,
        type="public",
        grant_types=["authorization_code"],
        redirect_uris=["https://app.example/cb"],
        audiences=[],
    )
    assert created["token_endpoint_auth_method"] == "none"
    assert created["client_secret"] is None


async def test_a_private_key_jwt_client_has_keys_and_no_secret(client, st) -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "k1"}).as_dict(private=False)
    with_extras = key | {"x5c": ["MIIB" * 100], "note": "anything"}
    created = await create(client, st, token_endpoint_auth_method="private_key_jwt", jwks={"keys": [with_extras]})
    assert created["client_secret"] is None
    # Only what verification needs is kept.
    assert created["jwks"] == {"keys": [key]}


def _private_jwk() -> dict[str, Any]:
    return ECKey.generate_key("P-256", parameters={"kid": "k"}).as_dict(private=True)


def _weak_rsa() -> dict[str, Any]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RSAKey.generate_key(1024, parameters={"kid": "weak"}).as_dict(private=False)


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"grant_types": ["implicit"]}, "/body/grant_types/0"),
        ({"grant_types": ["password"]}, "/body/grant_types/0"),
        ({"grant_types": []}, "/body/grant_types"),
        ({"type": "secret"}, "/body/type"),
        ({"name": ""}, "/body/name"),
        ({"name": "x" * 201}, "/body/name"),
        ({"scopes": ["has space"]}, "/body/scopes/0"),
        ({"scopes": ['quo"te']}, "/body/scopes/0"),
        ({"audiences": [""]}, "/body/audiences/0"),
        ({"access_token_lifetime": 59}, "/body/access_token_lifetime"),
        ({"access_token_lifetime": 3601}, "/body/access_token_lifetime"),
        ({"id_token_lifetime": 0}, "/body/id_token_lifetime"),
        ({"tenant": "by"}, "/body/tenant"),  # the tenant comes from the token, never from the body
        ({"client_id": "chosen"}, "/body/client_id"),
        ({"redirect_uris": ["http://portal.example/cb"]}, "/body/redirect_uris/0"),
        ({"redirect_uris": ["https://portal.example/cb#x"]}, "/body/redirect_uris/0"),
        ({"redirect_uris": ["https://portal.example/cb#"]}, "/body/redirect_uris/0"),
        ({"redirect_uris": ["https://*.example/cb"]}, "/body/redirect_uris/0"),
        ({"redirect_uris": ["https://user:pw@portal.example/cb"]}, "/body/redirect_uris/0"),
        ({"redirect_uris": ["/cb"]}, "/body/redirect_uris/0"),
        ({"redirect_uris": ["https://portal.example/a b"]}, "/body/redirect_uris/0"),
        ({"redirect_uris": ["https://portal.example:99999/cb"]}, "/body/redirect_uris/0"),
        ({"redirect_uris": ["com.example.app:/cb"]}, "/body/redirect_uris/0"),
        ({"redirect_uris": ["https://portal.example/" + "a" * 2048]}, "/body/redirect_uris/0"),
        ({"redirect_uris": [f"https://portal.example/{n}" for n in range(21)]}, "/body/redirect_uris"),
        ({"backchannel_logout_uri": "http://portal.example/logout"}, "/body/backchannel_logout_uri"),
        ({"backchannel_logout_uri": "https://localhost/logout"}, "/body/backchannel_logout_uri"),
        ({"backchannel_logout_uri": "https://10.0.0.7/logout"}, "/body/backchannel_logout_uri"),
        ({"backchannel_logout_uri": "https://169.254.169.254/latest"}, "/body/backchannel_logout_uri"),
        ({"backchannel_logout_uri": "https://[::1]/logout"}, "/body/backchannel_logout_uri"),
        ({"backchannel_logout_uri": "https://svc.cluster.internal/logout"}, "/body/backchannel_logout_uri"),
        ({"sector_identifier_uri": "http://portal.example/sector.json"}, "/body/sector_identifier_uri"),
        ({"sector_identifier_uri": "https://192.168.0.1/sector.json"}, "/body/sector_identifier_uri"),
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [_private_jwk()]}}, "/body/jwks"),
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}}, "/body/jwks"),
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [_weak_rsa()]}}, "/body/jwks"),
        ({"token_endpoint_auth_method": "client_secret_jwt"}, "/body/token_endpoint_auth_method"),
    ],
)
async def test_invalid_fields_are_refused_with_their_location(client, st, fields, pointer: str) -> None:
    response = await client.post("/admin/clients", json=BACKEND | fields, headers=st)
    body = assert_problem(response, 422, "validation-failed")
    assert pointer in [error["pointer"] for error in body["errors"]], body


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "public"},  # public clients cannot use client_credentials
        {
            "type": "public",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://a.example/cb"],
            "token_endpoint_auth_method": "client_secret_basic",
        },
        {"token_endpoint_auth_method": "none"},
        {"grant_types": ["refresh_token", "client_credentials"]},
        {"grant_types": ["authorization_code"]},  # no redirect URI
        {"audiences": []},  # client_credentials without an audience
        {"token_endpoint_auth_method": "private_key_jwt"},  # without keys
        {"jwks": {"keys": [ECKey.generate_key("P-256", parameters={"kid": "k"}).as_dict(private=False)]}},
        {"backchannel_logout_session_required": True},
        {
            "subject_type": "pairwise",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://a.example/cb", "https://b.example/cb"],
        },
    ],
)
async def test_settings_that_do_not_fit_together_are_refused(client, st, fields) -> None:
    response = await client.post("/admin/clients", json=BACKEND | fields, headers=st)
    body = assert_problem(response, 422, "validation-failed")
    assert body["errors"][0]["pointer"] == "/body"


async def test_a_body_that_is_not_json_is_refused(client, st) -> None:
    response = await client.post(
        "/admin/clients", content=b"{not json", headers=st | {"Content-Type": "application/json"}
    )
    assert_problem(response, 422)


async def test_duplicates_in_lists_are_dropped(client, st) -> None:
    created = await create(client, st, scopes=["payment:read", "payment:read"], audiences=["payment", "payment"])
    assert created["scopes"] == ["payment:read"]
    assert created["audiences"] == ["payment"]


async def test_the_list_pages_through_the_tenants_clients_only(app, client, st) -> None:
    await create(client, st)  # another tenant's client, never listed
    tenant = f"t{uuid.uuid4().hex[:8]}"
    own: list[str] = []
    headers = await admin_headers(client, app, tenant)
    for index in range(3):
        own.append((await create(client, headers, name=f"Client {index}"))["client_id"])
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await client.get("/admin/clients", params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 2
        assert {item["tenant"] for item in body["items"]} == {tenant}
        seen += [item["client_id"] for item in body["items"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert set(own) <= set(seen)
    assert len(seen) == 4  # three clients and the tenant's admin client
    assert seen == sorted(seen)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "x"}])
async def test_bad_paging_parameters_are_refused(client, st, params) -> None:
    assert_problem(await client.get("/admin/clients", params=params, headers=st), 422)


async def test_a_forged_cursor_is_refused(client, st) -> None:
    assert_problem(await client.get("/admin/clients", params={"cursor": "abc.def"}, headers=st), 400, "invalid-cursor")


# --- another tenant's clients ------------------------------------------------------------------------


async def test_another_tenants_client_does_not_exist_on_any_endpoint(client, st, by) -> None:
    theirs = await create(client, by)
    client_id = theirs["client_id"]
    assert_problem(await client.get(f"/admin/clients/{client_id}", headers=st), 404, "client-not-found")
    assert_problem(await client.patch(f"/admin/clients/{client_id}", json={"name": "Mine"}, headers=st), 404)
    assert_problem(await client.post(f"/admin/clients/{client_id}/secret", headers=st), 404)
    assert_problem(await client.delete(f"/admin/clients/{client_id}", headers=st), 404)
    listed = (await client.get("/admin/clients", params={"limit": 100}, headers=st)).json()["items"]
    assert client_id not in {item["client_id"] for item in listed}
    # Nothing changed for its owner: same name, same secret.
    still = (await client.get(f"/admin/clients/{client_id}", headers=by)).json()
    assert still["name"] == BACKEND["name"]
    assert await token_status(client, client_id, theirs["client_secret"]) == 200


# --- changes -----------------------------------------------------------------------------------------


async def test_a_change_takes_effect_on_the_next_token_request(client, st) -> None:
    created = await create(client, st, scopes=["payment:read", "payment:write"])
    client_id, secret = created["client_id"], created["client_secret"]
    assert await token_status(client, client_id, secret) == 200  # cached now
    changed = await client.patch(f"/admin/clients/{client_id}", json={"scopes": ["payment:read"]}, headers=st)
    assert changed.status_code == 200, changed.text
    assert changed.json()["scopes"] == ["payment:read"]
    assert changed.json()["updated_at"] > created["updated_at"]
    response = await client.post(
        "/token", data={"grant_type": "client_credentials", "scope": "payment:write"}, headers=basic(client_id, secret)
    )
    assert response.json()["error"] == "invalid_scope"


async def test_null_clears_an_optional_setting_and_omitted_ones_stay(client, st) -> None:
    created = await create(client, st, access_token_lifetime=120)
    client_id = created["client_id"]
    changed = (
        await client.patch(f"/admin/clients/{client_id}", json={"access_token_lifetime": None}, headers=st)
    ).json()
    assert changed["access_token_lifetime"] is None
    assert changed["scopes"] == created["scopes"]


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"type": "public"}, "/body/type"),
        ({"client_id": "x"}, "/body/client_id"),
        ({"name": None}, "/body/name"),
        ({"grant_types": ["implicit"]}, "/body/grant_types/0"),
        ({"audiences": []}, "/body"),  # no audience left for client_credentials
        ({"redirect_uris": ["http://evil.example/cb"]}, "/body/redirect_uris/0"),
    ],
)
async def test_invalid_changes_are_refused_and_change_nothing(client, st, changes, pointer: str) -> None:
    created = await create(client, st)
    response = await client.patch(f"/admin/clients/{created['client_id']}", json=changes, headers=st)
    body = assert_problem(response, 422, "validation-failed")
    assert pointer in [error["pointer"] for error in body["errors"]], body
    after = (await client.get(f"/admin/clients/{created['client_id']}", headers=st)).json()
    assert after["updated_at"] == created["updated_at"]
    assert after["audiences"] == created["audiences"]


async def test_moving_to_private_key_jwt_drops_the_secret(client, st) -> None:
    created = await create(client, st)
    key = ECKey.generate_key("P-256", parameters={"kid": "k"}).as_dict(private=False)
    changes = {"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key]}}
    changed = await client.patch(f"/admin/clients/{created['client_id']}", json=changes, headers=st)
    assert changed.status_code == 200, changed.text
    assert changed.json()["secret_rotated_at"] is None
    assert await token_status(client, created["client_id"], created["client_secret"]) == 401
    rotated = await client.post(f"/admin/clients/{created['client_id']}/secret", headers=st)
    assert_problem(rotated, 409, "no-client-secret")


async def test_secret_rotation_returns_a_new_secret_and_the_old_one_stops_working(client, st) -> None:
    created = await create(client, st)
    client_id = created["client_id"]
    assert await token_status(client, client_id, created["client_secret"]) == 200
    rotated = await client.post(f"/admin/clients/{client_id}/secret", headers=st)
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    new_secret = rotated.json()["client_secret"]
    assert new_secret != created["client_secret"]
    assert await token_status(client, client_id, created["client_secret"]) == 401
    assert await token_status(client, client_id, new_secret) == 200


async def test_a_deleted_client_gets_no_more_tokens(client, st) -> None:
    created = await create(client, st)
    client_id = created["client_id"]
    assert await token_status(client, client_id, created["client_secret"]) == 200
    deleted = await client.delete(f"/admin/clients/{client_id}", headers=st)
    assert deleted.status_code == 204
    assert await token_status(client, client_id, created["client_secret"]) == 401
    assert_problem(await client.delete(f"/admin/clients/{client_id}", headers=st), 404)
    assert_problem(await client.get(f"/admin/clients/{client_id}", headers=st), 404)


@pytest.mark.parametrize("client_id", ["has space", "x" * 65, "semi;colon"])
async def test_malformed_client_ids_are_refused(client, st, client_id: str) -> None:
    assert_problem(await client.get(f"/admin/clients/{client_id}", headers=st), 422)


# --- who may call ------------------------------------------------------------------------------------


async def test_the_admin_api_needs_a_token(client) -> None:
    response = await client.get("/admin/clients")
    assert_problem(response, 401, "invalid-token")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_admin_api_needs_the_admin_scope(app, client) -> None:
    registered = await register(app, "st", scopes=["identity:read"], audiences=["identity"])
    response = await client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=basic(registered.client_id, registered.client_secret),
    )
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert_problem(await client.get("/admin/clients", headers=headers), 403, "insufficient-scope")
    assert_problem(await client.post("/admin/clients", json=BACKEND, headers=headers), 403)


async def test_a_token_for_another_audience_is_refused(app, client) -> None:
    registered = await register(app, "st", scopes=["identity:admin"], audiences=["payment"])
    response = await client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=basic(registered.client_id, registered.client_secret),
    )
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert_problem(await client.get("/admin/clients", headers=headers), 401, "invalid-token")


async def test_a_token_without_a_tenant_is_refused(app, client) -> None:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "ops",
        "aud": "identity",
        "exp": now + 60,
        "iat": now,
        "jti": "j",
        "client_id": "ops",
        "scope": "identity:admin",
    }
    token = identity_of(app).ring.signer().sign(claims)
    response = await client.get("/admin/clients", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 403, "no-tenant")


async def test_a_token_of_another_issuer_is_refused(client) -> None:
    from kit.auth.testing import TokenFactory

    foreign = TokenFactory(issuer=ISSUER, audience="identity")
    headers = foreign.auth_header(scopes=["identity:admin"], tenant="st")
    assert_problem(await client.get("/admin/clients", headers=headers), 401, "invalid-token")
