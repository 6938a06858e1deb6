"""Request bodies above the limit get a 413 problem, whether declared or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.types import Message, Receive, Scope, Send

from kit.http.body_limit import BodySizeLimitMiddleware, InvalidContentLengthError, declared_length
from kit.http.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers, problem_type

LIMIT = 100


class Recorder:
    """A plain ASGI app reading the whole body, recording what it saw, answering 200."""

    def __init__(self) -> None:
        self.calls = 0
        self.seen = 0
        self.disconnected = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                break
            self.seen += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(self.seen).encode()})


def client_of(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


class Chunks:
    """A chunked request body that counts how much of it was pulled."""

    def __init__(self, count: int, size: int) -> None:
        self.count, self.size, self.pulled = count, size, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.pulled += 1
            yield b"x" * self.size


def assert_problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["type"] == problem_type(slug)
    assert response.json()["instance"] == "/upload"


async def test_declared_length_over_the_limit_is_refused_without_calling_the_app():
    recorder = Recorder()
    async with client_of(BodySizeLimitMiddleware(recorder, LIMIT)) as client:
        response = await client.post("/upload", content=b"x" * (LIMIT + 1))
    assert_problem(response, 413, "payload-too-large")
    assert response.headers["connection"] == "close"
    assert recorder.calls == 0


async def test_streamed_body_is_cut_off_once_past_the_limit():
    recorder = Recorder()
    body = Chunks(count=50, size=30)
    async with client_of(BodySizeLimitMiddleware(recorder, LIMIT)) as client:
        response = await client.post("/upload", content=body)
    assert_problem(response, 413, "payload-too-large")
    assert recorder.seen <= LIMIT
    assert recorder.disconnected
    assert body.pulled < body.count


@pytest.mark.parametrize("content", [b"x" * LIMIT, Chunks(count=4, size=25), b""])
async def test_bodies_within_the_limit_pass(content):
    recorder = Recorder()
    async with client_of(BodySizeLimitMiddleware(recorder, LIMIT)) as client:
        response = await client.post("/upload", content=content)
    assert response.status_code == 200
    assert response.text == str(LIMIT if content else 0)


async def test_fastapi_route_gets_a_413_problem_for_a_streamed_body():
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=LIMIT)

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    async with client_of(app) as client:
        too_big = await client.post("/upload", content=Chunks(count=10, size=30))
        fine = await client.post("/upload", content=b"x" * 10)
    assert_problem(too_big, 413, "payload-too-large")
    assert fine.json() == {"size": 10}


async def call(app, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> list[Message]:
    """Drive `app` by hand, for headers a real client would not send."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/upload", "headers": headers, "query_string": b""}
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("value", [b"abc", b"-1", b"+5", b"5_0", b"5, 6", b"", b"\xb2"])
async def test_invalid_content_length_is_a_400_problem(value):
    recorder = Recorder()
    start, body = await call(BodySizeLimitMiddleware(recorder, LIMIT), [(b"content-length", value)])
    assert start["status"] == 400
    assert (b"content-type", PROBLEM_MEDIA_TYPE.encode()) in start["headers"]
    assert problem_type("invalid-content-length").encode() in body["body"]
    assert recorder.calls == 0


async def test_websockets_and_lifespan_pass_untouched():
    seen = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    middleware = BodySizeLimitMiddleware(app, 0)
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    await middleware({"type": "websocket", "headers": [(b"content-length", b"x")]}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan", "websocket"]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], None),
        ([(b"content-length", b"0")], 0),
        ([(b"Content-Length", b"42")], 42),
        ([(b"content-length", b"7"), (b"content-length", b"7")], 7),
        ([(b"content-length", b"7, 7")], 7),
    ],
)
def test_declared_length(headers, expected):
    assert declared_length(headers) == expected


def test_conflicting_lengths_are_invalid():
    with pytest.raises(InvalidContentLengthError):
        declared_length([(b"content-length", b"7"), (b"content-length", b"8")])


def test_negative_limit_is_refused():
    with pytest.raises(ValueError):
        BodySizeLimitMiddleware(Recorder(), -1)
