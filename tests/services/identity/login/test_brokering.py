"""Brokering: logging in through an upstream OpenID provider — here a second instance of this very service,
over real HTTP — with its acr and per-attribute levels mapped, and bad answers refused."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from kit.db import migrate
from kit.service import Role
from kit.testing import LocalInfrastructure
from services.identity.app import SPEC, create_app
from services.identity.brokering.upstream import seal, unseal
from tests.services.identity.login.servers import free_port, serving
from tests.services.identity.oidc.flow import PASSWORD, hidden_fields, new_person
from tests.services.identity.support import identity_settings, register


@pytest.fixture(scope="module")
async def federation(identity_url: str, infrastructure: LocalInfrastructure) -> AsyncIterator[dict]:
    """The upstream provider (its own database) and ours, each served on its own port."""
    upstream_database = await infrastructure.create_database("identity_upstream")
    await migrate(upstream_database, SPEC.migrations_dir)
    ports = {"upstream": free_port(), "ours": free_port()}
    upstream_issuer, our_issuer = (f"http://127.0.0.1:{ports[name]}" for name in ("upstream", "ours"))
    upstream = create_app(identity_settings(upstream_database, issuer=upstream_issuer), Role.API)
    async with serving(upstream, ports["upstream"]):
        client = await register(
            upstream,
            "bund",
            grant_types=["authorization_code"],
            redirect_uris=[f"{our_issuer}/anmelden/extern/bund/zurueck"],
            audiences=[],
            scopes=[],
        )
        provider = {
            "name": "bund",
            "label": "BundID",
            "issuer": upstream_issuer,
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "scopes": "openid email",
            "acr_levels": {"niedrig": "niedrig", "substanziell": "substanziell", "hoch": "hoch"},
        }
        ours = create_app(identity_settings(identity_url, issuer=our_issuer, upstream_providers=[provider]), Role.API)
        async with serving(ours, ports["ours"]):
            yield {"upstream": upstream, "ours": ours, "issuer": our_issuer, "upstream_issuer": upstream_issuer}
    await asyncio.sleep(0)
    await infrastructure.drop_database(upstream_database)


async def test_a_person_logs_in_through_the_upstream_provider(federation) -> None:
    await new_person(federation["upstream"], "bund@example.org")
    issuer = federation["issuer"]
    async with httpx.AsyncClient(timeout=10) as browser:
        login_page = await browser.get(f"{issuer}/anmelden")
        assert "BundID" in login_page.text
        answer = await browser.get(f"{issuer}/anmelden/extern/bund?weiter=/konto")
        assert answer.status_code == 303 and answer.headers["location"].startswith(federation["upstream_issuer"])
        for _ in range(8):  # through the upstream's login and consent pages, as a person would
            if answer.status_code == 303:
                location = answer.headers["location"]
                if location.startswith(issuer):
                    break
                answer = await browser.get(location)
                continue
            fields = hidden_fields(answer.text)
            if 'name="password"' in answer.text:
                fields |= {"email": "bund@example.org", "password": PASSWORD}
                answer = await browser.post(f"{federation['upstream_issuer']}/anmelden", data=fields)
            else:
                answer = await browser.post(
                    f"{federation['upstream_issuer']}/authorize/zustimmung", data={**fields, "decision": "allow"}
                )
        back = await browser.get(answer.headers["location"])
        assert back.status_code == 303 and back.headers["location"] == f"{issuer}/konto", back.text
        page = await browser.get(f"{issuer}/konto")
        assert page.status_code == 200
        assert "Vertrauensniveau dieser Anmeldung</th><td>niedrig" in page.text
        export = (await browser.get(f"{issuer}/konto/export")).json()
    assert any(entry["kind"] == "identity_linked" for entry in export["auditTrail"])
    assert any(s["amr"] == ["fed"] for s in export["loginSessions"])


async def test_a_forged_or_stale_return_is_refused(federation) -> None:
    issuer = federation["issuer"]
    async with httpx.AsyncClient(timeout=10) as browser:
        no_flow = await browser.get(f"{issuer}/anmelden/extern/bund/zurueck?code=x&state=y")
        assert no_flow.status_code == 400
        await browser.get(f"{issuer}/anmelden/extern/bund?weiter=/konto")
        wrong_state = await browser.get(f"{issuer}/anmelden/extern/bund/zurueck?code=x&state=not-the-state")
        assert wrong_state.status_code == 400
        unknown = await browser.get(f"{issuer}/anmelden/extern/niemand")
        assert unknown.status_code == 404


def test_the_flow_cookie_is_tamper_proof() -> None:
    secret = b"s" * 32
    value = seal(secret, {"state": "a", "nonce": "b"})
    assert unseal(secret, value)["state"] == "a"
    mac = value.rsplit(".", 1)[1]
    forged = json.dumps({"state": "x", "nonce": "b", "exp": 9_999_999_999}).encode()
    assert unseal(secret, base64.urlsafe_b64encode(forged).decode() + "." + mac) is None
    assert unseal(b"t" * 32, value) is None
