"""Keycloak as the benchmark's peer: its distribution from Maven Central, started beside our service and
configured through its admin REST API with a client equivalent to ours."""

from __future__ import annotations

import os
import subprocess

import httpx

from kit.testing import repository_root

#: keycloak.sh's defaults; the admin is made once, when its H2 database is new.
ADMIN_USER, ADMIN_PASSWORD = "admin", "admin"
REALM = "bench"
SCRIPT = repository_root() / "deploy" / "local" / "keycloak.sh"


def keycloak_env(port: int) -> dict[str, str]:
    """The variables deploy/local/keycloak.sh reads."""
    return {**os.environ, "KEYCLOAK_PORT": str(port), "KEYCLOAK_ADMIN_USER": ADMIN_USER,
            "KEYCLOAK_ADMIN_SECRET": ADMIN_PASSWORD}  # fmt: skip


def start_keycloak(port: int) -> int:
    """Start Keycloak (start-dev, embedded H2) with deploy/local/keycloak.sh; its java process id."""
    done = subprocess.run(["bash", str(SCRIPT), "start"], env=keycloak_env(port), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"keycloak.sh start failed:\n{done.stderr}")
    return int(done.stdout.split()[-1])


def stop_keycloak(port: int) -> None:
    """Stop what :func:`start_keycloak` started."""
    subprocess.run(["bash", str(SCRIPT), "stop"], env=keycloak_env(port), check=False, capture_output=True)


def version() -> str:
    """The Keycloak version keycloak.sh runs."""
    text = SCRIPT.read_text()
    return text.split('KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-', 1)[1].split("}", 1)[0]


async def configure(base: str) -> tuple[str, str, str]:
    """A realm with an ES256 signing key and a confidential client-credentials client; its token URL, id, secret."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        form = {"grant_type": "password", "client_id": "admin-cli", "username": ADMIN_USER, "password": ADMIN_PASSWORD}
        token = (await http.post("/realms/master/protocol/openid-connect/token", data=form)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        realm = {"realm": REALM, "enabled": True, "accessTokenLifespan": 300, "defaultSignatureAlgorithm": "ES256"}
        created = await http.post("/admin/realms", json=realm, headers=headers)
        if created.status_code not in (201, 409):
            raise RuntimeError(f"realm: {created.status_code} {created.text}")
        realm_id = (await http.get(f"/admin/realms/{REALM}", headers=headers)).json()["id"]
        key = {
            "name": "es256",
            "providerId": "ecdsa-generated",
            "providerType": "org.keycloak.keys.KeyProvider",
            "parentId": realm_id,
            "config": {
                "priority": ["200"],
                "ecdsaEllipticCurveKey": ["P-256"],
                "active": ["true"],
                "enabled": ["true"],
            },
        }
        await http.post(f"/admin/realms/{REALM}/components", json=key, headers=headers)
        client = {
            "clientId": "fachverfahren",
            "protocol": "openid-connect",
            "publicClient": False,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
            "directAccessGrantsEnabled": False,
            "clientAuthenticatorType": "client-secret",
            "secret": "bench-client-secret-0123456789abcdef",
            "attributes": {"access.token.signed.response.alg": "ES256"},
        }
        created = await http.post(f"/admin/realms/{REALM}/clients", json=client, headers=headers)
        if created.status_code not in (201, 409):
            raise RuntimeError(f"client: {created.status_code} {created.text}")
    return f"{base}/realms/{REALM}/protocol/openid-connect/token", str(client["clientId"]), str(client["secret"])
