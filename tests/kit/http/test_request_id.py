"""Each request gets an id: the caller's when sane, else a fresh one; echoed and in context."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from hypothesis import given
from hypothesis import strategies as st

from kit.http.problems import install_problem_handlers
from kit.http.request_id import (
    REQUEST_ID_HEADER,
    RequestIdMiddleware,
    accept_request_id,
    current_request_id,
)

SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
GENERATED = re.compile(r"[0-9a-f]{32}")


def build_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/id")
    async def request_id(request: Request, delay: float = 0) -> dict[str, str | None]:
        await asyncio.sleep(delay)
        return {"context": current_request_id(), "state": request.state.request_id}

    return app


@pytest.fixture
async def client(client_for) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(build_app()) as client:
        yield client


async def test_generated_when_absent(client):
    response = await client.get("/id")
    request_id = response.headers[REQUEST_ID_HEADER]
    assert GENERATED.fullmatch(request_id)
    assert response.json() == {"context": request_id, "state": request_id}


async def test_sane_id_is_passed_through(client):
    sent = "gw-01:2024.06.01_abc-DEF"
    response = await client.get("/id", headers={REQUEST_ID_HEADER: sent})
    assert response.headers[REQUEST_ID_HEADER] == sent
    assert response.json()["context"] == sent


@pytest.mark.parametrize("insane", ["a" * 129, "with space", "semi;colon", "back\\slash", "ümlaut", ""])
async def test_insane_id_is_replaced(client, insane):
    response = await client.get("/id", headers={REQUEST_ID_HEADER: insane.encode()})
    request_id = response.headers[REQUEST_ID_HEADER]
    assert GENERATED.fullmatch(request_id)
    assert response.json()["context"] == request_id


async def test_error_responses_carry_the_id_too(client):
    response = await client.get("/nowhere", headers={REQUEST_ID_HEADER: "abc"})
    assert response.status_code == 404
    assert response.headers[REQUEST_ID_HEADER] == "abc"


async def test_concurrent_requests_keep_their_own_id(client):
    ids = [f"request-{n}" for n in range(10)]
    responses = await asyncio.gather(
        *(
            client.get("/id", params={"delay": 0.01 * (10 - n)}, headers={REQUEST_ID_HEADER: request_id})
            for n, request_id in enumerate(ids)
        )
    )
    assert [response.json()["context"] for response in responses] == ids


async def test_no_id_outside_a_request(client):
    await client.get("/id")
    assert current_request_id() is None


@given(st.text(max_size=300))
def test_accepted_ids_are_always_sane(candidate):
    accepted = accept_request_id(candidate)
    assert SANE.fullmatch(accepted)
    assert (accepted == candidate) == bool(SANE.fullmatch(candidate))


@given(st.from_regex(SANE, fullmatch=True))
def test_sane_ids_are_kept(candidate):
    assert accept_request_id(candidate) == candidate
