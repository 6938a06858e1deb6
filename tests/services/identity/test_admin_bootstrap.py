"""A tenant's first administrator, registered from the command line, administers that tenant's clients."""

import json
import os
import subprocess
import sys

import httpx
import pytest

from kit.testing import repository_root
from services.identity.clients.__main__ import main, register_admin
from tests.services.identity.support import ISSUER, KEY_ENCRYPTION_KEY, PEPPER, identity_settings


def run_command(identity_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "IDENTITY_DATABASE_URL": identity_url,
        "IDENTITY_ISSUER": ISSUER,
        "IDENTITY_KEY_ENCRYPTION_KEY": KEY_ENCRYPTION_KEY,
        "IDENTITY_CLIENT_SECRET_PEPPER": PEPPER,
    }
    return subprocess.run(
        [sys.executable, "-m", "services.identity.clients", *args],
        cwd=repository_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_bootstrapped_administrator_can_use_the_admin_api(
    identity_url: str, client: httpx.AsyncClient
) -> None:
    result = run_command(identity_url, "admin", "--tenant", "sh", "--name", "Landesadministration")
    assert result.returncode == 0, result.stderr
    credentials = json.loads(result.stdout)
    assert credentials["token_endpoint"] == f"{ISSUER}/token"
    assert credentials["scope"] == "identity:admin"
    issued = await client.post(
        "/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials["client_id"], credentials["client_secret"]),
    )
    assert issued.status_code == 200, issued.text
    headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    listed = await client.get("/admin/clients", headers=headers)
    assert listed.status_code == 200, listed.text
    assert [item["client_id"] for item in listed.json()["items"]] == [credentials["client_id"]]
    assert listed.json()["items"][0]["tenant"] == "sh"


def test_a_malformed_tenant_is_refused() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["admin", "--tenant", "Not A Slug"])
    assert exited.value.code == 2


async def test_without_the_services_pepper_nothing_is_registered(identity_url: str) -> None:
    settings = identity_settings(identity_url, client_secret_pepper=None)
    with pytest.raises(SystemExit, match="IDENTITY_CLIENT_SECRET_PEPPER"):
        await register_admin(settings, "sh", "Administration")
