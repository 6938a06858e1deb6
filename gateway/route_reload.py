"""Reloading the route table while the gateway runs: on a change of the file, and on SIGHUP.

The file is polled (at most once a second) rather than watched, since it may live on a volume
where change notifications do not work (a Kubernetes ConfigMap is a symlink swapped atomically).
A file that does not load keeps the table in force and is logged as an error: an operator's typo must
not take the gateway down, and the next good version is picked up as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

from gateway.metrics import route_table_reloads_total
from gateway.route_table import RouteTable, RouteTableError

__all__ = ["RouteTableSource"]

logger = logging.getLogger(__name__)

#: What identifies a version of the file: a change of any of these means "read it again".
FileVersion = tuple[int, int, int]


class RouteTableSource:
    """The route table in force, replaced by a new one when the file changes or SIGHUP arrives."""

    def __init__(self, path: Path, load: Callable[[Path], RouteTable], *, poll_interval: float = 1.0) -> None:
        self.path = path
        self._load = load
        self._poll_interval = poll_interval
        self._version = _version_of(path)
        #: Raises RouteTableError: without a first table the gateway cannot start.
        self.current: RouteTable = load(path)
        self._listeners: list[Callable[[RouteTable], None]] = []
        self._lock = asyncio.Lock()

    def on_change(self, listener: Callable[[RouteTable], None]) -> None:
        """Call `listener` with each new table."""
        self._listeners.append(listener)

    async def reload(self, *, reason: str) -> bool:
        """Load the file again now; True if a new table is in force."""
        async with self._lock:
            version = _version_of(self.path)
            try:
                table = await asyncio.to_thread(self._load, self.path)
            except RouteTableError as error:
                self._version = version  # do not report the same broken version every second
                route_table_reloads_total.labels("error").inc()
                logger.error("route table not reloaded (%s), keeping the previous one: %s", reason, error)
                return False
            self._version = version
            self.current = table
            route_table_reloads_total.labels("ok").inc()
            logger.info("route table reloaded (%s): %d routes", reason, len(table.routes))
        for listener in self._listeners:
            listener(table)
        return True

    async def watch(self) -> None:
        """Poll the file and reload it when it changed; runs until cancelled."""
        while True:
            await asyncio.sleep(self._poll_interval)
            if _version_of(self.path) != self._version:
                await self.reload(reason="file changed")

    @contextlib.contextmanager
    def reloading_on_sighup(self) -> Iterator[None]:
        """While inside, SIGHUP reloads the table (where the event loop can take signals)."""
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[bool]] = set()

        def on_sighup() -> None:
            task = loop.create_task(self.reload(reason="SIGHUP"))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        try:
            loop.add_signal_handler(signal.SIGHUP, on_sighup)
        except (NotImplementedError, RuntimeError, ValueError):
            # Not the main thread, or no signals on this platform: the file is still polled.
            logger.info("SIGHUP cannot be handled here; the route table reloads on file changes only")
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGHUP)


def _version_of(path: Path) -> FileVersion:
    try:
        # stat follows symlinks, so a swapped ConfigMap link is a new inode.
        info = os.stat(path)
    except OSError:
        return (0, 0, 0)
    return (info.st_ino, info.st_mtime_ns, info.st_size)
