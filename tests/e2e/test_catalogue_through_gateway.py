"""End to end through the real gateway: identity issues the tokens, a tenant's editor publishes a
Leistung in the catalogue, and citizens find it — three real processes on real PostgreSQL and Kafka."""

import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from kit.testing import LocalInfrastructure, repository_root
from tests.e2e.processes import free_port, stop, wait_ready

pytestmark = pytest.mark.slow

LEIKA = "99107004000000"


@pytest.fixture(scope="module")
def suite(infrastructure: LocalInfrastructure, kafka_bootstrap: str, tmp_path_factory) -> Iterator[dict[str, str]]:
    """identity, catalogue and the gateway as processes, configured as in production."""
    databases = {name: asyncio.run(infrastructure.create_database(f"e2e_{name}")) for name in ("identity", "catalogue")}
    ports = {name: free_port() for name in ("identity", "catalogue", "gateway")}
    identity_url = f"http://127.0.0.1:{ports['identity']}"
    env = {
        **os.environ,
        "PYTHONPATH": str(repository_root()),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "IDENTITY_DATABASE_URL": databases["identity"],
        "IDENTITY_KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "IDENTITY_CLIENT_SECRET_PEPPER": secrets.token_urlsafe(32),
        "IDENTITY_ISSUER": identity_url,
        "CATALOGUE_DATABASE_URL": databases["catalogue"],
        "CATALOGUE_IDENTITY_URL": identity_url,
        "CATALOGUE_READ_MODEL_POLL_INTERVAL": "0.1",
        "GATEWAY_IDENTITY_URL": identity_url,
        "GATEWAY_CATALOGUE_URL": f"http://127.0.0.1:{ports['catalogue']}",
        "GATEWAY_PORT": str(ports["gateway"]),
    }
    logs = tmp_path_factory.mktemp("e2e")
    commands = {
        "identity": ["-m", "services.identity", "--migrate", "--port", str(ports["identity"])],
        "catalogue": ["-m", "services.catalogue", "--migrate", "--port", str(ports["catalogue"])],
        "gateway": ["-m", "gateway"],
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, arguments in commands.items():
            log = logs / f"{name}.log"
            processes[name] = subprocess.Popen(
                [sys.executable, *arguments],
                cwd=repository_root(),
                env=env,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            # The gateway's readiness reports every upstream, and mailbox, payment and routing are not started.
            probe = "live" if name == "gateway" else "ready"
            wait_ready(f"http://127.0.0.1:{ports[name]}/health/{probe}", processes[name], log)
        admin = subprocess.run(
            [sys.executable, "-m", "services.identity.clients", "admin", "--tenant", "st"],
            cwd=repository_root(), env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        yield {"gateway": f"http://127.0.0.1:{ports['gateway']}", **json.loads(admin.stdout)}
    finally:
        stop(list(processes.values()))
        for url in databases.values():
            asyncio.run(infrastructure.drop_database(url))


def _token(gateway: str, client_id: str, secret: str, scope: str, audience: str | None = None) -> str:
    form = {"grant_type": "client_credentials", "scope": scope} | ({"audience": audience} if audience else {})
    response = httpx.post(f"{gateway}/identity/token", data=form, auth=(client_id, secret), timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_an_editor_publishes_and_citizens_find_it_through_the_gateway(suite) -> None:
    gateway = suite["gateway"]
    admin = _token(gateway, suite["client_id"], suite["client_secret"], "identity:admin")
    registered = httpx.post(
        f"{gateway}/identity/admin/clients",
        json={
            "name": "Redaktion Sachsen-Anhalt",
            "type": "confidential",
            "grant_types": ["client_credentials"],
            "scopes": ["catalogue:edit"],
            "audiences": ["catalogue"],
        },
        headers={"Authorization": f"Bearer {admin}"},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    editor_client = registered.json()
    client_id, secret = editor_client["client_id"], editor_client["client_secret"]
    editor = {"Authorization": f"Bearer {_token(gateway, client_id, secret, 'catalogue:edit', 'catalogue')}"}

    leistung = {"leikaKey": LEIKA, "bezeichnung": {"de": "Fischereischein Erteilung"}, "leikaTyp": "4"}
    anonymous = httpx.put(f"{gateway}/catalogue/editorial/leistungen/{LEIKA}", json=leistung, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    saved = httpx.put(f"{gateway}/catalogue/editorial/leistungen/{LEIKA}", json=leistung, headers=editor, timeout=10)
    assert saved.status_code == 201, saved.text
    assert saved.json()["tenant"] == "st"
    published = httpx.post(f"{gateway}/catalogue/editorial/leistungen/{LEIKA}/publish", headers=editor, timeout=10)
    assert published.status_code == 200, published.text

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the replica's read model follows the change feed
        hits = httpx.get(f"{gateway}/catalogue/suche", params={"q": "angelschein fischerei"}, timeout=10).json()["hits"]
        if hits:
            break
        time.sleep(0.2)
    assert hits and hits[0]["payload"]["leikaKey"] == LEIKA
    detail = httpx.get(f"{gateway}/catalogue/leistungen/{LEIKA}", timeout=10)
    assert detail.json()["bezeichnung"]["text"] == "Fischereischein Erteilung"
    merged = httpx.get(f"{gateway}/openapi.json", timeout=10).json()
    assert "/catalogue/zustaendigkeiten" in merged["paths"]
