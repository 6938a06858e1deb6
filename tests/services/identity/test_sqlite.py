"""The embedded default of `make run`: the same endpoints on SQLite (no advisory locks, no JSONB)."""

import httpx

from kit.db import migrate
from kit.service import Role
from kit.testing import service_client
from services.identity.app import SPEC, create_app
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
