"""``make run``: the whole suite on one machine — Kafka, then the five services and the gateway, with a
development mail sink and the eID simulator for identity.

Each service runs as ``python -m services.<name> --migrate`` on its fixed port with a SQLite file
under ``.data/`` (or PostgreSQL where ``<SERVICE>_DATABASE_URL`` says so). Ctrl-C (or SIGTERM) stops
every process this script started, the broker included if it started it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORTS = {"identity": 8001, "catalogue": 8002, "mailbox": 8003, "payment": 8004, "routing": 8005}
SERVICES = {name: int(os.environ.get(f"{name.upper()}_PORT", port)) for name, port in DEFAULT_PORTS.items()}
GATEWAY_PORT = int(os.environ.get("GATEWAY_PORT", "8000"))
LOCAL_HOSTS = ("@127.0.0.1", "@localhost")
READY_TIMEOUT = 120.0
MAIL_SINK_PORT = int(os.environ.get("MAIL_SINK_PORT", "8025"))
EID_SIMULATOR_PORT = int(os.environ.get("EID_SIMULATOR_PORT", "8010"))


def script(name: str, *args: str) -> int:
    """Run a deploy/local script, returning its exit code."""
    return subprocess.call(["bash", str(ROOT / "deploy" / "local" / f"{name}.sh"), *args])  # noqa: S603


def local_postgres_databases() -> list[str]:
    """The databases on the local PostgreSQL cluster that services are configured to use."""
    names = []
    for name in SERVICES:
        url = os.environ.get(f"{name.upper()}_DATABASE_URL", "")
        if url.startswith("postgresql") and any(host in url for host in LOCAL_HOSTS):
            names.append(url.rsplit("/", 1)[-1].split("?", 1)[0])
    return names


def suite_environment() -> dict[str, str]:
    """The environment of every process: the repository on the import path, and the issuer as portals see it.

    Browsers and portals reach identity through the gateway, so the issuer in tokens and in the discovery
    document is the gateway's ``/identity``; every service and the gateway expect that issuer. Variables
    already set win.
    """
    issuer = f"http://127.0.0.1:{GATEWAY_PORT}/identity"
    defaults = {"IDENTITY_ISSUER": issuer, "GATEWAY_ISSUER": issuer}
    # identity's e-mails go to the development mail sink (.run/mail/), unless an SMTP server is configured.
    defaults |= {"IDENTITY_SMTP_PORT": str(MAIL_SINK_PORT), "IDENTITY_SMTP_STARTTLS": "false"}
    # ... and its online ID card logins to the eID simulator, which also stands in for the AusweisApp.
    simulator = f"http://127.0.0.1:{EID_SIMULATOR_PORT}"
    defaults |= {
        "IDENTITY_EID_SERVER_URL": f"{simulator}/eIDService/basisdienste",
        "IDENTITY_EID_CLIENT_URL": f"{simulator}/eID-Client",
    }
    defaults |= {f"{name.upper()}_AUTH_ISSUER": issuer for name in SERVICES if name != "identity"}
    return defaults | dict(os.environ) | {"PYTHONPATH": str(ROOT)}


def start(command: list[str]) -> subprocess.Popen[bytes]:
    """Start one process of the suite."""
    env = suite_environment()
    return subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603


def ready(port: int) -> bool:
    """Whether the process on `port` answers its readiness probe."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """Terminate every process, killing those that do not end within 15 s."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    """Start everything, report the URLs, and wait for Ctrl-C."""
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    # Before anything starts, so that a Ctrl-C during start-up still stops what did start.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    kafka_was_running = script("kafka", "status") == 0
    if script("kafka", "start") != 0:
        return 1
    databases = local_postgres_databases()
    if databases and script("postgres", "start") != 0:
        return 1
    for database in databases:  # one database per service, created on demand
        if script("postgres", "createdb", database) != 0:
            return 1
    python = sys.executable
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.extend(start([python, "-m", f"services.{name}", "--migrate"]) for name in SERVICES)
        processes.append(start([python, "-m", "gateway"]))
        if "IDENTITY_SMTP_HOST" not in os.environ:
            processes.append(start([python, "-m", "tools.mail_sink", "--port", str(MAIL_SINK_PORT)]))
        if "IDENTITY_EID_SERVER_URL" not in os.environ:
            simulator = [python, "-m", "services.identity.eid.simulator", "--port", str(EID_SIMULATOR_PORT)]
            processes.append(start(simulator))
        deadline = time.monotonic() + READY_TIMEOUT
        pending = {**SERVICES, "gateway": GATEWAY_PORT}
        while pending and not stopping and time.monotonic() < deadline:
            pending = {name: port for name, port in pending.items() if not ready(port)}
            if any(p.poll() is not None for p in processes):
                print("a process of the suite exited during start-up", file=sys.stderr)
                return 1
            time.sleep(0.5)
        if pending and not stopping:
            print(f"not ready after {READY_TIMEOUT:.0f} s: {', '.join(pending)}", file=sys.stderr)
        elif not stopping:
            print(
                f"\nBasisdienste is running.\n  gateway: http://127.0.0.1:{GATEWAY_PORT}\n"
                f"  API docs: http://127.0.0.1:{GATEWAY_PORT}/docs\n"
                f"  accounts: http://127.0.0.1:{GATEWAY_PORT}/identity/registrieren (e-mails in .run/mail/)\n"
                "  Ctrl-C stops everything.\n",
                flush=True,
            )
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.5)
        return 0 if stopping else 1
    finally:
        stop_all(processes)
        if not kafka_was_running:
            script("kafka", "stop")


if __name__ == "__main__":
    sys.exit(main())
