"""`make run` for real: Kafka and the six processes start, every one reports ready, the gateway
reaches the services, and one Ctrl-C stops them all."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kit.testing import repository_root

PORTS = {"gateway": 8000, "identity": 8001, "catalogue": 8002, "mailbox": 8003, "payment": 8004, "routing": 8005}

pytestmark = pytest.mark.slow


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_make_run_starts_everything_ready_and_ctrl_c_stops_all(kafka_bootstrap: str, tmp_path: Path) -> None:
    if any(_listening(port) for port in PORTS.values()):
        pytest.skip("the suite's ports are taken (is `make run` already running?)")
    env = {**os.environ, "PYTHONPATH": str(repository_root())}
    for name in PORTS:
        env[f"{name.upper()}_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / name}.db"
    runner = subprocess.Popen(  # the command behind `make run`
        [sys.executable, "deploy/local/run.py"],
        cwd=repository_root(),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = runner.stdout.readline()  # type: ignore[union-attr]
            assert line or runner.poll() is None, "make run exited:\n" + "".join(lines[-40:])
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        output = "".join(lines)
        assert "http://127.0.0.1:8000/docs" in output, output[-4000:]
        for name, port in PORTS.items():
            ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
            assert ready.status_code == 200, (name, ready.text)
        gateway = httpx.get("http://127.0.0.1:8000/health/ready", timeout=5).json()
        assert set(gateway["checks"]) == set(PORTS) - {"gateway"}
        through = httpx.get("http://127.0.0.1:8000/catalogue/aenderungen", timeout=5)
        assert through.status_code == 200
        assert through.headers["x-request-id"]
        internal = httpx.get("http://127.0.0.1:8000/payment/health/live", timeout=5)
        assert internal.status_code == 404  # the services' internal paths stay inside
        runner.send_signal(signal.SIGINT)
        assert runner.wait(timeout=60) == 0
        assert not [name for name, port in PORTS.items() if _listening(port)]
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
