"""Idempotency-Key: a retried create has its effect exactly once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request, Response
from pydantic import BaseModel
from sqlalchemy import Column, MetaData, String, Table, Uuid, func, insert, select
from sqlalchemy.exc import OperationalError

from kit.db import NAMING_CONVENTION, Database, utcnow
from kit.http.idempotency import (
    IDEMPOTENCY_KEY_HEADER,
    REPLAYED_HEADER,
    Idempotency,
    idempotency,
    idempotency_keys,
    install_idempotency,
    purge_expired,
)
from kit.http.problems import PROBLEM_MEDIA_TYPE, ProblemError, install_problem_handlers, problem_type

JSON = {"content-type": "application/json"}

metadata = MetaData(naming_convention=NAMING_CONVENTION)
things = Table(
    "things",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(50), nullable=False),
)


class ThingIn(BaseModel):
    name: str


class ThingOut(BaseModel):
    id: uuid.UUID
    name: str


class Hooks:
    """Test-controlled points inside the route."""

    def __init__(self) -> None:
        self.before_effect: Callable[[], Awaitable[None]] | None = None
        self.fail_after_remember = False


def build_app(database: Database, hooks: Hooks, **install_options) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_idempotency(app, sessions=database.session, **install_options)

    @app.post("/things", status_code=201, response_model=ThingOut)
    async def create_thing(body: ThingIn, idem: Annotated[Idempotency, Depends(idempotency)]) -> Response:
        async with database.session() as session, session.begin():
            if (replay := await idem.replay(session)) is not None:
                return replay
            if hooks.before_effect is not None:
                await hooks.before_effect()
            thing = ThingOut(id=uuid.uuid4(), name=body.name)
            await session.execute(insert(things).values(thing.model_dump()))
            response = await idem.remember(
                session, status_code=201, body=thing, headers={"Location": f"/things/{thing.id}", "X-Other": "1"}
            )
            if hooks.fail_after_remember:
                raise ProblemError(503, "unavailable", "Try again")
            return response

    @app.post("/other-things", status_code=201, response_model=ThingOut)
    async def create_other(body: ThingIn, idem: Annotated[Idempotency, Depends(idempotency)]) -> Response:
        async with database.session() as session, session.begin():
            if (replay := await idem.replay(session)) is not None:
                return replay
            return await idem.remember(session, status_code=201, body=ThingOut(id=uuid.uuid4(), name=body.name))

    return app


@pytest.fixture
async def database_with_things(database: Database) -> Database:
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    return database


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


@pytest.fixture
async def client(database_with_things, hooks, client_for) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(build_app(database_with_things, hooks)) as client:
        yield client


async def count(database: Database, table: Table) -> int:
    async with database.session() as session:
        return (await session.execute(select(func.count()).select_from(table))).scalar_one()


def with_key(key: str) -> dict[str, str]:
    return {IDEMPOTENCY_KEY_HEADER: key}


def assert_problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["type"] == problem_type(slug)


async def test_without_a_key_every_request_has_its_effect(client, database_with_things):
    first = await client.post("/things", json={"name": "a"})
    second = await client.post("/things", json={"name": "a"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert await count(database_with_things, things) == 2
    assert await count(database_with_things, idempotency_keys) == 0


async def test_retry_replays_the_first_response_without_repeating_the_effect(client, database_with_things):
    first = await client.post("/things", json={"name": "a"}, headers=with_key("key-1"))
    retry = await client.post("/things", json={"name": "a"}, headers=with_key("key-1"))
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"] == f"/things/{first.json()['id']}"
    assert retry.headers[REPLAYED_HEADER] == "true"
    assert REPLAYED_HEADER not in first.headers
    # Only whitelisted headers are stored.
    assert first.headers["x-other"] == "1"
    assert "x-other" not in retry.headers
    assert await count(database_with_things, things) == 1


async def test_same_key_with_another_body_is_a_409(client, database_with_things):
    await client.post("/things", json={"name": "a"}, headers=with_key("key-1"))
    response = await client.post("/things", json={"name": "b"}, headers=with_key("key-1"))
    assert_problem(response, 409, "idempotency-key-reused")
    assert await count(database_with_things, things) == 1


async def test_same_key_on_another_route_is_a_409(client):
    await client.post("/things", json={"name": "a"}, headers=with_key("key-1"))
    response = await client.post("/other-things", json={"name": "a"}, headers=with_key("key-1"))
    assert_problem(response, 409, "idempotency-key-reused")


@pytest.mark.parametrize("key", ["k" * 256, "ümlaut", "tab\there"])
async def test_malformed_key_is_a_400(client, database_with_things, key):
    response = await client.post("/things", json={"name": "a"}, headers={IDEMPOTENCY_KEY_HEADER: key.encode()})
    assert_problem(response, 400, "invalid-idempotency-key")
    assert await count(database_with_things, things) == 0


async def test_longest_key_is_accepted(client):
    response = await client.post("/things", json={"name": "a"}, headers=with_key("k" * 255))
    assert response.status_code == 201


async def test_concurrent_identical_requests_have_one_effect(database_with_things, client_for):
    hooks, parallel = Hooks(), 5
    # Every request passes its replay() check before any of them writes: a real race.
    barrier = asyncio.Barrier(parallel)

    async def wait_for_all() -> None:
        await asyncio.wait_for(barrier.wait(), 10)

    hooks.before_effect = wait_for_all
    async with client_for(build_app(database_with_things, hooks)) as client:
        responses = await asyncio.gather(
            *(client.post("/things", json={"name": "a"}, headers=with_key("raced") | JSON) for _ in range(parallel))
        )
    assert [response.status_code for response in responses] == [201] * parallel, [r.text for r in responses]
    assert all(response.json() == responses[0].json() for response in responses)
    assert sum(REPLAYED_HEADER in response.headers for response in responses) == parallel - 1
    assert await count(database_with_things, things) == 1


async def commit_winner(database: Database, body: bytes, response_body: dict[str, Any]) -> None:
    """Store a key as a concurrent request would have, committed before ours writes it."""
    async with database.session() as session, session.begin():
        await session.execute(
            insert(idempotency_keys).values(
                scope="anonymous",
                key="raced",
                method="POST",
                path="/things",
                body_hash=hashlib.sha256(body).hexdigest(),
                status_code=201,
                response_body=response_body,
                response_headers={"Location": "/things/winner"},
                created_at=utcnow(),
            )
        )


async def test_losing_a_race_rolls_back_and_replays_the_winner(client, hooks, database_with_things):
    winner = {"id": str(uuid.uuid4()), "name": "a"}

    async def winner_commits() -> None:
        await commit_winner(database_with_things, b'{"name":"a"}', winner)

    hooks.before_effect = winner_commits
    response = await client.post("/things", content=b'{"name":"a"}', headers=with_key("raced") | JSON)
    assert response.status_code == 201
    assert response.json() == winner
    assert response.headers["location"] == "/things/winner"
    assert await count(database_with_things, things) == 0  # our effect was rolled back


async def test_losing_a_race_to_another_body_is_a_409(client, hooks, database_with_things):
    async def winner_commits() -> None:
        await commit_winner(database_with_things, b'{"name":"other"}', {"name": "other"})

    hooks.before_effect = winner_commits
    response = await client.post("/things", content=b'{"name":"a"}', headers=with_key("raced") | JSON)
    assert_problem(response, 409, "idempotency-key-reused")
    assert await count(database_with_things, things) == 0


async def test_unreadable_winner_is_key_in_use(database_with_things, hooks, client_for):
    @asynccontextmanager
    async def broken_sessions():
        raise OperationalError("SELECT", {}, Exception("database went away"))
        yield  # pragma: no cover

    async def winner_commits() -> None:
        await commit_winner(database_with_things, b'{"name":"a"}', {"name": "a"})

    hooks.before_effect = winner_commits
    app = build_app(database_with_things, hooks)
    install_idempotency(app, sessions=broken_sessions)
    async with client_for(app) as client:
        response = await client.post("/things", content=b'{"name":"a"}', headers=with_key("raced") | JSON)
    assert_problem(response, 409, "idempotency-key-in-use")
    assert response.headers["retry-after"] == "1"
    assert await count(database_with_things, things) == 0


async def test_rolled_back_transaction_leaves_no_key(client, hooks, database_with_things):
    hooks.fail_after_remember = True
    failed = await client.post("/things", json={"name": "a"}, headers=with_key("key-1"))
    assert_problem(failed, 503, "unavailable")
    assert await count(database_with_things, idempotency_keys) == 0
    hooks.fail_after_remember = False
    retry = await client.post("/things", json={"name": "a"}, headers=with_key("key-1"))
    assert retry.status_code == 201
    assert REPLAYED_HEADER not in retry.headers
    assert await count(database_with_things, things) == 1


async def test_keys_are_scoped(database_with_things, hooks, client_for):
    async def tenant_of(request: Request) -> str | None:
        return request.headers.get("x-tenant")

    async with client_for(build_app(database_with_things, hooks, scope=tenant_of)) as client:
        a = await client.post("/things", json={"name": "a"}, headers=with_key("k") | {"x-tenant": "a"})
        b = await client.post("/things", json={"name": "a"}, headers=with_key("k") | {"x-tenant": "b"})
        anonymous = await client.post("/things", json={"name": "a"}, headers=with_key("k"))
        again = await client.post("/things", json={"name": "a"}, headers=with_key("k") | {"x-tenant": "a"})
    assert len({a.json()["id"], b.json()["id"], anonymous.json()["id"]}) == 3
    assert again.json() == a.json()
    async with database_with_things.session() as session:
        scopes = set((await session.execute(select(idempotency_keys.c.scope))).scalars())
    assert scopes == {"a", "b", "anonymous"}


async def backdate(database: Database, key: str, age: dt.timedelta) -> None:
    async with database.session() as session, session.begin():
        await session.execute(
            idempotency_keys.update().where(idempotency_keys.c.key == key).values(created_at=utcnow() - age)
        )


async def test_expired_key_is_forgotten(client, database_with_things):
    first = await client.post("/things", json={"name": "a"}, headers=with_key("old"))
    await backdate(database_with_things, "old", dt.timedelta(hours=25))
    second = await client.post("/things", json={"name": "b"}, headers=with_key("old"))
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert await count(database_with_things, things) == 2


async def test_purge_expired_removes_only_old_keys(client, database_with_things):
    for key in ("old", "new"):
        await client.post("/things", json={"name": "a"}, headers=with_key(key))
    await backdate(database_with_things, "old", dt.timedelta(hours=25))
    async with database_with_things.session() as session, session.begin():
        assert await purge_expired(session) == 1
    async with database_with_things.session() as session:
        assert list((await session.execute(select(idempotency_keys.c.key))).scalars()) == ["new"]


async def test_dependency_requires_installation(client_for):
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def create(idem: Annotated[Idempotency, Depends(idempotency)]) -> None:
        return None

    async with client_for(app) as client:
        response = await client.post("/things")
    assert_problem(response, 500, "internal-error")


async def test_openapi_documents_the_header(client):
    document = (await client.get("/openapi.json")).json()
    parameters = document["paths"]["/things"]["post"]["parameters"]
    assert [(p["name"], p["in"], p.get("required", False)) for p in parameters] == [
        (IDEMPOTENCY_KEY_HEADER, "header", False)
    ]
