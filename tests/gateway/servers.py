"""Real HTTP servers for the gateway tests: any ASGI app on an ephemeral port of 127.0.0.1, in this
process (uvicorn in a task of the test's event loop), and the gateway as a child process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp

from kit.testing import repository_root


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the test process keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bound_socket() -> socket.socket:
    """A listening-ready TCP socket on an ephemeral port of 127.0.0.1 (never the suite's 8000-8005)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def unused_port() -> int:
    """A port nothing listens on (it was free a moment ago): an upstream that is down."""
    with bound_socket() as sock:
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, **options: object) -> AsyncIterator[str]:
    """Serve `app` over real HTTP for the duration; yields its base URL."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        lifespan="auto",
        interface="asgi3",
        timeout_graceful_shutdown=2,
        **options,  # type: ignore[arg-type]
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        sock.close()


async def raw_request(url: str, request: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are (no client library normalising them) and read the whole answer."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


class GatewayProcess:
    """``python -m gateway`` as a child process, with its log in a file."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.port = unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway"],
                cwd=repository_root(),
                env={
                    **os.environ,
                    "PYTHONPATH": str(repository_root()),
                    "GATEWAY_HOST": "127.0.0.1",
                    "GATEWAY_PORT": str(self.port),
                    **env,
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_until_serving(self, timeout: float = 60) -> None:
        """Return once ``/health/live`` answers."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"gateway exited:\n{self.log()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(self.url + "/health/live")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"gateway not serving after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        """What the gateway wrote so far."""
        return self.log_path.read_text(errors="replace")

    def rss_bytes(self) -> int:
        """Resident memory now."""
        return self._status_kib("VmRSS") * 1024

    def peak_rss_bytes(self) -> int:
        """The most resident memory the process ever had."""
        return self._status_kib("VmHWM") * 1024

    def _status_kib(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise LookupError(field)

    def reload(self) -> None:
        """Send SIGHUP."""
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
