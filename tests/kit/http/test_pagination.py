"""Cursor pagination: signed cursors, bounded limits and keyset pages on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, insert, select

from kit.db import NAMING_CONVENTION, Database, UTCDateTime
from kit.http.pagination import (
    CURSOR_SECRET_ENV,
    CursorCodec,
    Page,
    PageParams,
    decode_cursor,
    encode_cursor,
    paginate,
    set_cursor_secret,
)
from kit.http.problems import PROBLEM_MEDIA_TYPE, ProblemError, install_problem_handlers, problem_type

SECRET = b"0123456789abcdef-test-secret"
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

metadata = MetaData(naming_convention=NAMING_CONVENTION)
things = Table(
    "things",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("name", String(50), nullable=False),
)


@pytest.fixture(autouse=True)
def cursor_secret():
    set_cursor_secret(SECRET)
    yield
    set_cursor_secret(None)


# --- cursors --------------------------------------------------------------------------------------

key_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.uuids(),
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2))])),
    st.datetimes(),
    st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False),
)


@given(st.lists(key_values, max_size=4))
def test_cursor_round_trips_values_and_types(values):
    decoded = decode_cursor(encode_cursor(values))
    assert decoded == values
    assert [type(value) for value in decoded] == [type(value) for value in values]
    assert [getattr(v, "tzinfo", None) for v in decoded] == [getattr(v, "tzinfo", None) for v in values]


@given(st.lists(key_values, min_size=1, max_size=3))
def test_cursors_are_url_safe(values):
    cursor = encode_cursor(values)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


@given(st.text(max_size=200))
def test_garbage_is_an_invalid_cursor_problem(garbage):
    with pytest.raises(ProblemError) as raised:
        decode_cursor(garbage)
    assert raised.value.status == 400
    assert raised.value.type == problem_type("invalid-cursor")


def test_tampered_cursor_is_refused():
    payload, mac = encode_cursor([1, "a"]).split(".")
    forged_payload = CursorCodec(b"another-secret-of-16+bytes").encode([999, "a"]).split(".")[0]
    for forged in (f"{forged_payload}.{mac}", f"{payload}.{mac[:-2]}AA", f"{payload}.", payload):
        with pytest.raises(ProblemError):
            decode_cursor(forged)


def test_cursor_of_another_secret_is_refused():
    other = CursorCodec(b"another-secret-of-16+bytes")
    with pytest.raises(ProblemError):
        decode_cursor(other.encode([1]))
    assert other.decode(other.encode([1])) == [1]


def test_secret_from_environment_is_shared_by_processes(monkeypatch):
    monkeypatch.setenv(CURSOR_SECRET_ENV, "a-secret-shared-by-every-replica")
    set_cursor_secret(None)
    cursor = encode_cursor([1])
    assert CursorCodec(b"a-secret-shared-by-every-replica").decode(cursor) == [1]


def test_short_secrets_and_unsupported_values_are_refused():
    with pytest.raises(ValueError):
        set_cursor_secret(b"short")
    with pytest.raises(TypeError):
        encode_cursor([object()])
    with pytest.raises(ValueError):
        encode_cursor([float("nan")])


# --- keyset pagination ----------------------------------------------------------------------------


class ThingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    rank: int
    name: str


@pytest.fixture
async def seeded(database: Database) -> Database:
    """23 things: ranks 0..4 with ties, creation times with ties, random ids."""
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(
            insert(things),
            [
                {
                    "id": uuid.uuid4(),
                    "rank": n % 5,
                    "created_at": T0 + dt.timedelta(seconds=n // 3, microseconds=7),
                    "name": f"thing {n}",
                }
                for n in range(23)
            ],
        )
    return database


async def all_pages(database: Database, limit: int, **options) -> list[list[ThingOut]]:
    pages, cursor = [], None
    while True:
        async with database.session() as session:
            page = await paginate(
                session,
                select(things),
                params=PageParams(limit=limit, cursor=cursor),
                to_item=ThingOut.model_validate,
                **options,
            )
        pages.append(page.items)
        if page.next is None:
            return pages
        cursor = page.next


async def expected_order(database: Database, *order) -> list[ThingOut]:
    async with database.session() as session:
        rows = (await session.execute(select(things).order_by(*order))).all()
    return [ThingOut.model_validate(row) for row in rows]


async def test_pages_follow_ties_in_the_first_key(seeded):
    pages = await all_pages(seeded, 5, key_columns=[things.c.rank, things.c.id])
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert [item for page in pages for item in page] == await expected_order(seeded, things.c.rank, things.c.id)


async def test_datetime_and_uuid_keys_round_trip_through_the_cursor(seeded):
    pages = await all_pages(seeded, 4, key_columns=[things.c.created_at, things.c.id])
    assert len(pages) == 6
    expected = await expected_order(seeded, things.c.created_at, things.c.id)
    assert [item for page in pages for item in page] == expected


async def test_descending_order(seeded):
    pages = await all_pages(seeded, 7, key_columns=[things.c.created_at, things.c.id], descending=True)
    expected = await expected_order(seeded, things.c.created_at.desc(), things.c.id.desc())
    assert [item for page in pages for item in page] == expected


async def test_single_key_and_exact_fit(seeded):
    pages = await all_pages(seeded, 23, key_columns=[things.c.id])
    assert len(pages) == 1
    assert len(pages[0]) == 23


async def test_cursor_of_another_list_is_refused(seeded):
    for foreign in (encode_cursor(["text", uuid.uuid4()]), encode_cursor([1])):
        async with seeded.session() as session:
            with pytest.raises(ProblemError) as raised:
                await paginate(
                    session,
                    select(things),
                    key_columns=[things.c.rank, things.c.id],
                    params=PageParams(limit=5, cursor=foreign),
                    to_item=ThingOut.model_validate,
                )
        assert raised.value.type == problem_type("invalid-cursor")


# --- over HTTP ------------------------------------------------------------------------------------


def build_app(database: Database) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/things")
    async def list_things(params: Annotated[PageParams, Depends()]) -> Page[ThingOut]:
        async with database.session() as session:
            return await paginate(
                session,
                select(things),
                key_columns=[things.c.rank, things.c.id],
                params=params,
                to_item=ThingOut.model_validate,
            )

    return app


@pytest.fixture
async def client(seeded, client_for) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(build_app(seeded)) as client:
        yield client


async def test_http_walks_every_page(client, seeded):
    first = await client.get("/things")
    assert first.status_code == 200
    assert len(first.json()["items"]) == 20
    second = await client.get("/things", params={"cursor": first.json()["next"]})
    assert len(second.json()["items"]) == 3
    assert second.json()["next"] is None
    ids = [item["id"] for item in first.json()["items"] + second.json()["items"]]
    assert ids == [str(thing.id) for thing in await expected_order(seeded, things.c.rank, things.c.id)]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "many"])
async def test_limit_out_of_bounds_is_a_422_problem(client, limit):
    response = await client.get("/things", params={"limit": limit})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert [error["pointer"] for error in response.json()["errors"]] == ["/query/limit"]


@pytest.mark.parametrize("limit", [1, 100])
async def test_limit_bounds_are_inclusive(client, limit):
    response = await client.get("/things", params={"limit": limit})
    assert len(response.json()["items"]) == min(limit, 23)


async def test_forged_cursor_is_a_400_problem(client):
    first = (await client.get("/things", params={"limit": 2})).json()
    _, mac = first["next"].split(".")
    forged = CursorCodec(b"guessed-secret-16+bytes").encode([4, str(uuid.uuid4())]).split(".")[0] + "." + mac
    response = await client.get("/things", params={"cursor": forged})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["type"] == problem_type("invalid-cursor")


async def test_overlong_cursor_is_a_422_problem(client):
    response = await client.get("/things", params={"cursor": "a" * 2000})
    assert response.status_code == 422


async def test_openapi_documents_the_page_parameters(client):
    document = (await client.get("/openapi.json")).json()
    parameters = {p["name"]: p for p in document["paths"]["/things"]["get"]["parameters"]}
    assert parameters["limit"]["schema"]["maximum"] == 100
    assert parameters["limit"]["schema"]["default"] == 20
    assert "cursor" in parameters


def test_decimal_keys_keep_their_precision():
    assert decode_cursor(encode_cursor([Decimal("12.3400")])) == [Decimal("12.3400")]
    assert str(decode_cursor(encode_cursor([Decimal("12.3400")]))[0]) == "12.3400"


def test_page_model_serialises():
    assert Page[int](items=[1, 2], next=None).model_dump() == {"items": [1, 2], "next": None}
