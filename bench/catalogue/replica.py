"""One catalogue API replica under test: start it, time its read model's load, read its memory.

The replica is ``python -m services.catalogue --role api`` (uvicorn, one process). It is loaded when a
search finds something: the read model swaps in the records, the Zuständigkeiten and the search index
at once. Kafka is not needed for reads; the broker address points nowhere so that the replica never
touches the shared broker (its readiness check would fail, which is why it is not asked).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.gateway.processes import Server

#: A search that finds something once the national catalogue is loaded.
LOADED_PROBE = "/suche?q=personalausweis"


@dataclass(frozen=True)
class Memory:
    """Resident memory of one process now, and the most it has held."""

    rss_bytes: int
    peak_bytes: int


def start_replica(database_url: str, port: int, *, log_dir: Path, cwd: Path) -> Server:
    """Start the replica on 127.0.0.1:`port` against `database_url`."""
    env = {
        "CATALOGUE_DATABASE_URL": database_url,
        "CATALOGUE_LOG_LEVEL": "INFO",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    }
    argv = [sys.executable, "-m", "services.catalogue", "--role", "api", "--port", str(port)]
    return Server("catalogue", argv, log_dir=log_dir, cwd=cwd, env=env)


async def wait_until_loaded(server: Server, base_url: str, *, timeout: float = 300) -> None:
    """Return once a search finds hits; fail if the replica exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    await server.wait_until_serving(f"{base_url}/health/live", timeout=timeout)
    async with httpx.AsyncClient(timeout=10.0) as client:
        while time.monotonic() < deadline:
            try:
                response = await client.get(base_url + LOADED_PROBE)
            except httpx.TransportError as error:
                raise RuntimeError(f"catalogue stopped answering while loading:\n{server.log_tail()}") from error
            if response.is_success and response.json()["total"] > 0:
                return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"catalogue did not load within {timeout:.0f} s:\n{server.log_tail()}")


def logged_load(server: Server) -> tuple[int, float] | None:
    """Records and seconds of the read model's load, as its "catalogue loaded" log line says."""
    for line in server.log_path.read_text(errors="replace").splitlines():
        if '"catalogue loaded"' in line:
            entry = json.loads(line)
            return int(entry["records"]), float(entry["seconds"])
    return None


def memory(pid: int) -> Memory:
    """VmRSS and VmHWM of `pid` from /proc (zero when it is gone)."""
    fields: dict[str, int] = {}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return Memory(fields.get("VmRSS", 0), fields.get("VmHWM", 0))
