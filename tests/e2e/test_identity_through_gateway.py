"""End to end through the real gateway: a person registers (the link comes by real SMTP), and a portal
logs them in with OpenID Connect — authorization code with PKCE, an RP library validating the ID token,
userinfo, refresh and logout — with identity, the gateway and a mail sink as processes."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.oidc.core import CodeIDToken

from kit.testing import LocalInfrastructure, repository_root
from tests.e2e.processes import free_port, stop, wait_ready

pytestmark = pytest.mark.slow

PORTAL = "https://portal.example/callback"
PASSWORD = "ein langes Passwort 42"
_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


@pytest.fixture(scope="module")
def suite(infrastructure: LocalInfrastructure, kafka_bootstrap: str, tmp_path_factory) -> Iterator[dict[str, str]]:
    """identity, the gateway and the development mail sink as processes; the issuer is the gateway's."""
    database = asyncio.run(infrastructure.create_database("e2e_identity"))
    ports = {name: free_port() for name in ("identity", "gateway", "mail")}
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    logs = tmp_path_factory.mktemp("e2e_identity")
    mail_directory = logs / "mail"
    env = {
        **os.environ,
        "PYTHONPATH": str(repository_root()),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "IDENTITY_DATABASE_URL": database,
        "IDENTITY_KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "IDENTITY_CLIENT_SECRET_PEPPER": secrets.token_urlsafe(32),
        "IDENTITY_PAGE_SECRET": secrets.token_urlsafe(32),
        "IDENTITY_TOKEN_SECRET": secrets.token_urlsafe(32),
        "IDENTITY_ISSUER": f"{gateway}/identity",
        "IDENTITY_SMTP_PORT": str(ports["mail"]),
        "IDENTITY_SMTP_STARTTLS": "false",
        "GATEWAY_IDENTITY_URL": f"http://127.0.0.1:{ports['identity']}",
        "GATEWAY_ISSUER": f"{gateway}/identity",
        "GATEWAY_PORT": str(ports["gateway"]),
    }
    commands = {
        "mail": ["-m", "tools.mail_sink", "--port", str(ports["mail"]), "--directory", str(mail_directory)],
        "identity": ["-m", "services.identity", "--migrate", "--port", str(ports["identity"])],
        "gateway": ["-m", "gateway"],
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, arguments in commands.items():
            log = logs / f"{name}.log"
            process = subprocess.Popen(
                [sys.executable, *arguments], cwd=repository_root(), env=env, stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            processes.append(process)
            if name != "mail":
                probe = "live" if name == "gateway" else "ready"
                wait_ready(f"http://127.0.0.1:{ports[name]}/health/{probe}", process, log)
        admin = subprocess.run(
            [sys.executable, "-m", "services.identity.clients", "admin", "--tenant", "st"],
            cwd=repository_root(), env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        yield {"gateway": gateway, "mail": str(mail_directory), **json.loads(admin.stdout)}
    finally:
        stop(processes)
        asyncio.run(infrastructure.drop_database(database))


def _fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def _mail_link(directory: str, recipient: str) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for path in sorted(Path(directory).glob(f"*{recipient}*.eml")):
            body = message_from_bytes(path.read_bytes()).get_payload(decode=True).decode()
            if match := re.search(r"https?://\S+", body):
                return match.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no mail to {recipient}")


def _register_portal(gateway: str, suite: dict[str, str]) -> dict:
    form = {"grant_type": "client_credentials", "scope": "identity:admin"}
    admin = httpx.post(f"{gateway}/identity/token", data=form, auth=(suite["client_id"], suite["client_secret"]))
    assert admin.status_code == 200, admin.text
    registered = httpx.post(
        f"{gateway}/identity/admin/clients",
        json={
            "name": "Landesportal",
            "type": "confidential",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [PORTAL],
            "post_logout_redirect_uris": ["https://portal.example/"],
            "scopes": [],
            "audiences": [],
        },
        headers={"Authorization": f"Bearer {admin.json()['access_token']}"},
    )
    assert registered.status_code == 201, registered.text
    return registered.json()


def test_a_person_registers_and_a_portal_logs_them_in_through_the_gateway(suite) -> None:
    gateway = suite["gateway"]
    issuer = f"{gateway}/identity"
    discovery = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == issuer
    assert discovery["authorization_endpoint"] == f"{issuer}/authorize"

    with httpx.Client(timeout=10) as browser:
        page = browser.get(f"{issuer}/registrieren")
        assert page.status_code == 200 and "Content-Security-Policy" in page.headers
        form = {**_fields(page.text), "email": "e2e@example.org", "password": PASSWORD, "password2": PASSWORD}
        assert "Fast geschafft" in browser.post(f"{issuer}/registrieren", data=form).text
        assert browser.get(_mail_link(suite["mail"], "e2e@example.org")).status_code == 200

        portal = _register_portal(gateway, suite)
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        with OAuth2Client(
            client_id=portal["client_id"], client_secret=portal["client_secret"], scope="openid email",
            redirect_uri=PORTAL, code_challenge_method="S256",
        ) as rp:  # fmt: skip
            url, state = rp.create_authorization_url(
                discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
            )
            answer = browser.get(url)
            assert answer.status_code == 303 and "/identity/anmelden" in answer.headers["location"]
            login = browser.get(answer.headers["location"])
            credentials = {**_fields(login.text), "email": "e2e@example.org", "password": PASSWORD}
            back = browser.post(f"{issuer}/anmelden", data=credentials)
            assert back.status_code == 303, back.text
            consent = browser.get(back.headers["location"])
            assert "möchte folgende Angaben" in consent.text
            callback = browser.post(
                f"{issuer}/authorize/zustimmung", data={**_fields(consent.text), "decision": "allow"}
            )
            location = callback.headers["location"]
            assert location.startswith(PORTAL)
            assert parse_qs(urlsplit(location).query)["state"] == [state]
            tokens = rp.fetch_token(
                discovery["token_endpoint"], authorization_response=location, code_verifier=verifier
            )

        keys = JsonWebKey.import_key_set(httpx.get(discovery["jwks_uri"]).json())
        claims = JsonWebToken(["ES256", "RS256"]).decode(
            tokens["id_token"], keys, claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "value": issuer}},
            claims_params={"nonce": nonce, "client_id": portal["client_id"], "access_token": tokens["access_token"]},
        )  # fmt: skip
        claims.validate()
        userinfo = httpx.get(
            discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).json()
        assert userinfo == {"sub": claims["sub"], "email": "e2e@example.org", "email_verified": True}

        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        portal_auth = (portal["client_id"], portal["client_secret"])
        refreshed = httpx.post(discovery["token_endpoint"], data=refresh, auth=portal_auth)
        assert refreshed.status_code == 200, refreshed.text

        query = urlencode({"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://portal.example/"})
        logout = browser.get(f"{discovery['end_session_endpoint']}?{query}")
        assert logout.status_code == 303 and logout.headers["location"] == "https://portal.example/"
        # The session ended with the logout, and the refresh token bound to it with the session.
        again = httpx.post(
            discovery["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"]},
            auth=portal_auth,
        )
        assert again.json()["error"] == "invalid_grant"
