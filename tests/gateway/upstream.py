"""A small real upstream for the gateway tests, recording what reaches it.

Paths (after the gateway stripped its prefix):

- ``/sink``: reads the body, counting bytes, and answers ``{"received": n}``;
- ``/source?bytes=N``: answers N bytes, streamed in 1 MiB chunks (``&length=1`` declares them);
- ``/slow?seconds=S``: answers after S seconds;
- ``/status/<code>``: answers with that status;
- ``/flaky/<key>?fail=N&code=C``: answers C to the first N requests of that key, then 200;
- ``/hop``: answers with hop-by-hop headers and a header the Connection header names;
- ``/cookie``: answers with a Set-Cookie;
- anything else: echoes the request as JSON (method, raw path, query, headers, body size and digest).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

_CHUNK = b"\x5a" * (1024 * 1024)


@dataclass
class Seen:
    """A request as the upstream received it."""

    method: str
    raw_path: str
    query: str
    headers: list[tuple[str, str]]
    body_bytes: int = 0
    complete: bool = False

    def header(self, name: str) -> list[str]:
        """Every value of the header `name`."""
        return [value for key, value in self.headers if key == name.lower()]


@dataclass
class Upstream:
    """The ASGI app; :attr:`seen` holds every request in arrival order."""

    name: str = "upstream"
    seen: list[Seen] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)

    def paths(self) -> list[str]:
        """The raw paths that reached this upstream."""
        return [request.raw_path for request in self.seen]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        seen = Seen(
            method=scope["method"],
            raw_path=raw_path,
            query=scope["query_string"].decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
        )
        self.seen.append(seen)
        query = {key: values[-1] for key, values in parse_qs(seen.query).items()}
        path = scope["path"]
        if path == "/source":
            await _source(send, int(query["bytes"]), declare=query.get("length") == "1")
            return
        digest = await _read_body(receive, seen)
        if path == "/sink":
            await _json(send, 200, {"received": seen.body_bytes})
        elif path == "/slow":
            await asyncio.sleep(float(query.get("seconds", "1")))
            await _json(send, 200, {"slow": True})
        elif path.startswith("/status/"):
            await _json(send, int(path.rsplit("/", 1)[1]), {"upstream": self.name})
        elif path.startswith("/flaky/"):
            self.hits[path] += 1
            failing = self.hits[path] <= int(query.get("fail", "1"))
            await _json(send, int(query.get("code", "503")) if failing else 200, {"hit": self.hits[path]})
        elif path == "/hop":
            headers = [
                (b"connection", b"x-secret, keep-alive"),
                (b"x-secret", b"internal"),
                (b"keep-alive", b"timeout=5"),
                (b"proxy-authenticate", b"Basic"),
                (b"x-kept", b"yes"),
            ]
            await _json(send, 200, {}, headers)
        elif path == "/cookie":
            await _json(send, 200, {}, [(b"set-cookie", b"session=secret-of-one-client; Path=/")])
        else:
            await _json(
                send,
                200,
                {
                    "upstream": self.name,
                    "method": seen.method,
                    "raw_path": seen.raw_path,
                    "query": seen.query,
                    "headers": seen.headers,
                    "body_bytes": seen.body_bytes,
                    "body_sha256": digest,
                },
            )


async def _read_body(receive: Receive, seen: Seen) -> str:
    digest = hashlib.sha256()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return digest.hexdigest()
        chunk = message.get("body", b"")
        seen.body_bytes += len(chunk)
        digest.update(chunk)
        if not message.get("more_body", False):
            seen.complete = True
            return digest.hexdigest()


async def _json(send: Send, status: int, body: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _source(send: Send, size: int, *, declare: bool) -> None:
    headers = [(b"content-type", b"application/octet-stream")]
    if declare:
        headers.append((b"content-length", str(size).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    remaining = size
    while remaining > 0:
        chunk = _CHUNK[: min(remaining, len(_CHUNK))]
        remaining -= len(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
    if size == 0:
        await send({"type": "http.response.body", "body": b""})
