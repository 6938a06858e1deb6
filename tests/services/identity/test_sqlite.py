"""The embedded default of `make run`: the same endpoints on SQLite (no advisory locks, no JSONB)."""

import base64
import hashlib
from urllib.parse import urlencode

import httpx

from kit.db import migrate
from kit.service import Role
from kit.testing import service_client
from services.identity.app import SPEC, create_app
from tests.services.identity.oidc.flow import REDIRECT_URI, Browser, new_person, query_of
from tests.services.identity.support import ISSUER, basic, identity_settings, register


async def test_keys_clients_tokens_and_revocation_work_on_sqlite(sqlite_url: str) -> None:
    await migrate(sqlite_url, SPEC.migrations_dir)
    app = create_app(identity_settings(sqlite_url), Role.API)
    async with service_client(app, base_url=ISSUER) as client:
        assert len((await client.get("/jwks")).json()["keys"]) == 1
        registered = await register(app, "st")
        headers = basic(registered.client_id, registered.client_secret)
        issued = await client.post("/token", data={"grant_type": "client_credentials"}, headers=headers)
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        assert (await client.post("/introspect", data={"token": token}, headers=headers)).json()["active"] is True
        assert (await client.post("/revoke", data={"token": token}, headers=headers)).status_code == 200
        assert (await client.post("/introspect", data={"token": token}, headers=headers)).json() == {"active": False}
        admin = await register(app, "st", scopes=["identity:admin"], audiences=["identity"])
        admin_token = (
            await client.post(
                "/token", data={"grant_type": "client_credentials"}, headers=basic(admin.client_id, admin.client_secret)
            )
        ).json()["access_token"]
        bearer = {"Authorization": f"Bearer {admin_token}"}
        listed: httpx.Response = await client.get("/admin/clients", headers=bearer)
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["items"]) == 2
        assert (await client.delete(f"/admin/clients/{registered.client_id}", headers=bearer)).status_code == 204


async def test_a_person_logs_in_to_a_portal_and_refreshes_on_sqlite(sqlite_url: str) -> None:
    await migrate(sqlite_url, SPEC.migrations_dir)
    app = create_app(identity_settings(sqlite_url), Role.API)
    async with service_client(app, base_url=ISSUER) as client:
        portal = await register(
            app, "st", grant_types=["authorization_code", "refresh_token"], redirect_uris=[REDIRECT_URI], audiences=[]
        )
        await new_person(app, "sqlite@example.org")
        verifier = "v" * 50
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {
            "response_type": "code",
            "client_id": portal.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid email",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        callback = await Browser(client).authorize("/authorize?" + urlencode(query), "sqlite@example.org")
        auth = (portal.client_id, portal.client_secret)
        exchange = {"grant_type": "authorization_code", "code": query_of(callback)["code"]}
        exchange |= {"redirect_uri": REDIRECT_URI, "code_verifier": verifier}
        tokens = (await client.post("/token", data=exchange, auth=auth)).json()
        assert tokens["id_token"]
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        assert (await client.post("/token", data=refresh, auth=auth)).status_code == 200
