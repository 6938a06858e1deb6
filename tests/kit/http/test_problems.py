"""Every error of an app with the problem handlers is an RFC 9457 problem document."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from kit.http.problems import (
    PROBLEM_MEDIA_TYPE,
    Problem,
    ProblemError,
    ValidationProblem,
    install_problem_handlers,
    json_pointer,
    problem_responses,
    problem_type,
)
from kit.http.request_id import REQUEST_ID_HEADER, RequestIdMiddleware

SECRET = "hunter2-do-not-leak"


class Item(BaseModel):
    name: str = Field(max_length=10)


class ThingIn(BaseModel):
    name: str = Field(max_length=10)
    count: int = Field(ge=0)
    items: list[Item] = []


class ThingOut(BaseModel):
    name: str


def build_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestIdMiddleware)

    @app.post("/things", status_code=201, responses=problem_responses(409, 422))
    async def create_thing(body: ThingIn) -> ThingOut:
        return ThingOut(name=body.name)

    @app.get("/things", responses=problem_responses(400))
    async def list_things(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[ThingOut]:
        return []

    @app.get("/conflict")
    async def conflict() -> None:
        raise ProblemError(
            409,
            "thing-exists",
            "Thing exists",
            "A thing with this name exists.",
            headers={"Retry-After": "5"},
            extensions={"existing": "abc"},
        )

    @app.get("/forbidden")
    async def forbidden() -> None:
        raise HTTPException(403, detail="Only editors may do this.", headers={"WWW-Authenticate": "Bearer"})

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(f"could not connect with password {SECRET}")

    return app


@pytest.fixture
async def client(client_for) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(build_app()) as client:
        yield client


def assert_problem(response: httpx.Response, status: int, slug: str, path: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    Problem.model_validate(body)
    assert body["type"] == problem_type(slug)
    assert body["status"] == status
    assert body["instance"] == path
    assert body["title"]
    return body


async def test_problem_error_keeps_detail_extensions_and_headers(client):
    response = await client.get("/conflict")
    body = assert_problem(response, 409, "thing-exists", "/conflict")
    assert body["detail"] == "A thing with this name exists."
    assert body["existing"] == "abc"
    assert response.headers["retry-after"] == "5"


async def test_invalid_body_lists_pointers_without_echoing_input(client):
    response = await client.post(
        "/things", json={"name": SECRET, "count": -1, "items": [{"name": "ok"}, {"name": SECRET}]}
    )
    body = assert_problem(response, 422, "validation-failed", "/things")
    ValidationProblem.model_validate(body)
    pointers = {error["pointer"] for error in body["errors"]}
    assert pointers == {"/body/name", "/body/count", "/body/items/1/name"}
    assert all(set(error) == {"pointer", "detail"} and error["detail"] for error in body["errors"])
    assert SECRET not in response.text
    assert "-1" not in response.text


async def test_missing_body_and_invalid_json_are_422_problems(client):
    missing = await client.post("/things", json={})
    assert {e["pointer"] for e in assert_problem(missing, 422, "validation-failed", "/things")["errors"]} == {
        "/body/name",
        "/body/count",
    }
    broken = await client.post(
        "/things", content=b'{"name": "' + SECRET.encode(), headers={"content-type": "application/json"}
    )
    assert_problem(broken, 422, "validation-failed", "/things")
    assert SECRET not in broken.text


async def test_invalid_query_parameter_points_into_the_query(client):
    response = await client.get("/things", params={"limit": "1000"})
    body = assert_problem(response, 422, "validation-failed", "/things")
    assert [error["pointer"] for error in body["errors"]] == ["/query/limit"]


async def test_unknown_path_is_not_found(client):
    assert_problem(await client.get("/nowhere"), 404, "not-found", "/nowhere")


async def test_wrong_method_is_method_not_allowed_with_allow(client):
    response = await client.delete("/conflict")
    assert_problem(response, 405, "method-not-allowed", "/conflict")
    assert "GET" in response.headers["allow"].replace(" ", "").split(",")


async def test_http_exception_keeps_detail_and_headers(client):
    response = await client.get("/forbidden")
    body = assert_problem(response, 403, "forbidden", "/forbidden")
    assert body["detail"] == "Only editors may do this."
    assert response.headers["www-authenticate"] == "Bearer"


async def test_unexpected_error_is_a_500_without_internals_and_is_logged(client, caplog):
    with caplog.at_level(logging.ERROR, logger="kit.http.problems"):
        response = await client.get("/boom")
    body = assert_problem(response, 500, "internal-error", "/boom")
    assert body["detail"]
    for leak in (SECRET, "RuntimeError", "Traceback", "password"):
        assert leak not in response.text
    # Handled innermost: the response still passes through the other middlewares.
    assert response.headers[REQUEST_ID_HEADER]
    [record] = [r for r in caplog.records if r.name == "kit.http.problems"]
    assert record.exc_info is not None
    assert SECRET in str(record.exc_info[1])


class FailingMiddleware:
    def __init__(self, app: ASGIApp, error: Exception) -> None:
        self.app = app
        self.error = error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raise self.error
        await self.app(scope, receive, send)


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (RuntimeError(SECRET), 500, "internal-error"),
        (ProblemError(401, "unauthenticated", "Unauthenticated"), 401, "unauthenticated"),
    ],
)
async def test_errors_raised_in_middleware_are_problems_too(error, status, slug):
    app = build_app()
    app.add_middleware(FailingMiddleware, error=error)
    # Starlette re-raises errors of middlewares to the server after answering; only the answer matters.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/things")
    assert_problem(response, status, slug, "/things")
    assert SECRET not in response.text


async def test_openapi_documents_problems(client):
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert {"Problem", "ValidationProblem", "ProblemFieldError"} <= set(schemas)
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    create = document["paths"]["/things"]["post"]["responses"]
    assert create["409"]["content"] == {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert create["422"]["content"] == {
        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}
    }
    # A route that did not list 422 gets FastAPI's default one, rewritten to the problem shape.
    listing = document["paths"]["/things"]["get"]["responses"]
    assert listing["422"]["content"] == create["422"]["content"]
    assert listing["400"]["description"] == "Bad Request"


def test_problem_responses_are_keyed_by_status():
    assert set(problem_responses(404, 409)) == {404, 409}


@pytest.mark.parametrize(
    ("location", "pointer"),
    [
        (("body", "items", 0, "name"), "/body/items/0/name"),
        (("query", "a/b~c"), "/query/a~1b~0c"),
        ((), ""),
    ],
)
def test_json_pointer_escapes_per_rfc_6901(location, pointer):
    assert json_pointer(location) == pointer


async def test_installing_twice_changes_nothing(client_for):
    app = build_app()
    middleware_count = len(app.user_middleware)
    install_problem_handlers(app)
    assert len(app.user_middleware) == middleware_count
    async with client_for(app) as client:
        assert_problem(await client.get("/boom"), 500, "internal-error", "/boom")
        assert "Problem" in (await client.get("/openapi.json")).json()["components"]["schemas"]


async def test_installing_after_start_is_refused():
    app = build_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as started:
        await started.get("/things")
    with pytest.raises(RuntimeError):
        install_problem_handlers(app)
