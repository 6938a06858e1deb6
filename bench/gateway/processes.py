"""The servers under test as child processes: free ports, start, wait until serving, CPU used, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """One server process (with the workers it forks), its output in ``<log_dir>/<name>.log``."""

    def __init__(
        self, name: str, argv: Sequence[str], *, log_dir: Path, cwd: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        """The process id of the server (the master, for nginx)."""
        return self._process.pid

    async def wait_until_serving(self, url: str, *, timeout: float = 60.0) -> None:
        """Return once GET `url` answers 2xx; fail if the process exits or `timeout` passes."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self._process.returncode}:\n{self.log_tail()}")
                try:
                    if (await client.get(url)).is_success:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} did not serve {url} within {timeout:.0f} s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and every process it forked."""
        return sum(_cpu_seconds_of(pid) for pid in _process_tree(self.pid))

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers."""
        if self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server printed."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def machine_busy_seconds() -> float:
    """CPU time all cores together spent on anything but idling and waiting for I/O since boot."""
    ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = ticks[3], ticks[4]
    # guest and guest_nice (fields 9 and 10) are already counted in user and nice.
    return (sum(ticks[:8]) - idle - iowait) / _CLOCK_TICKS


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat_fields(int(entry.name))
            if stat:
                children.setdefault(int(stat[1]), []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def _cpu_seconds_of(pid: int) -> float:
    stat = _stat_fields(pid)
    return (int(stat[11]) + int(stat[12])) / _CLOCK_TICKS if stat else 0.0


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name: state, ppid, …; empty if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return raw[raw.rindex(")") + 2 :].split()
