"""RFC 9457 problem details: the one error format of every API in the suite.

Raise :class:`ProblemError` anywhere below a route; the handlers installed by
:func:`install_problem_handlers` turn it — and every other error FastAPI or Starlette raises — into
an ``application/problem+json`` response with a stable ``type`` URI. Unexpected exceptions become a
500 without internals.

Routes document their error responses with :func:`problem_responses`::

    @router.post("/things", status_code=201, responses=problem_responses(409, 422))
"""

from __future__ import annotations

import http
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:basisdienste:problem:"

logger = logging.getLogger(__name__)


def problem_type(slug: str) -> str:
    """The stable `type` URI of a problem, e.g. ``problem_type("not-found")``."""
    return PROBLEM_TYPE_PREFIX + slug


class ProblemError(Exception):
    """An error the client is told about as a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.type = problem_type(slug)
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions or {}

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document's members."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


# --- the documented shape -------------------------------------------------------------------------


class Problem(BaseModel):
    """An RFC 9457 problem document. Problems may carry extension members beside these."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Stable URI identifying the kind of problem.", examples=[problem_type("not-found")])
    title: str = Field(description="Short summary of the kind of problem; the same for every occurrence.")
    status: int = Field(ge=100, le=599, description="The HTTP status code of this response.")
    detail: str | None = Field(default=None, description="Explanation specific to this occurrence.")
    instance: str | None = Field(default=None, description="The request path the problem occurred at.")


class ProblemFieldError(BaseModel):
    """One invalid part of a request: where it is and what is wrong with it (never its value)."""

    pointer: str = Field(description="JSON-pointer-like location, e.g. /body/items/0/name or /query/limit.")
    detail: str = Field(description="What is wrong with the value at that location.")


class ValidationProblem(Problem):
    """The 422 problem of a request that failed validation, listing every invalid field."""

    errors: list[ProblemFieldError]


class ProblemResponse(JSONResponse):
    """A JSON response with the problem media type."""

    media_type = PROBLEM_MEDIA_TYPE


def problem_response(problem: ProblemError, instance: str | None = None) -> ProblemResponse:
    """The response carrying `problem`; `instance` is the request path it concerns."""
    return ProblemResponse(problem.to_dict(instance), status_code=problem.status, headers=problem.headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each status documented as a problem+json document.

    The schemas are registered by :func:`install_problem_handlers`, which every app calls.
    """
    return {status: _documented_problem(status) for status in statuses}


def _documented_problem(status: int) -> dict[str, Any]:
    schema = "ValidationProblem" if status == 422 else "Problem"
    return {
        "description": _title_for(status),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


# --- slugs and titles of HTTP errors --------------------------------------------------------------

# Explicit where the modern name (RFC 9110) differs from Python's phrase or where clients already
# rely on the slug; everything else is derived from the phrase.
_SLUGS: dict[int, str] = {
    413: "payload-too-large",
    422: "validation-failed",
    500: "internal-error",
}


def slug_for_status(status: int) -> str:
    """The problem slug of a plain HTTP error, e.g. 404 -> ``not-found``."""
    if status in _SLUGS:
        return _SLUGS[status]
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        return f"http-{status}"
    return re.sub(r"[^a-z0-9]+", "-", phrase.lower()).strip("-")


def _title_for(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# --- handlers -------------------------------------------------------------------------------------


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of `app` an RFC 9457 problem response and document the problem schemas.

    Call it in each app factory, before the app serves its first request; calling it again is a no-op.
    """
    if app.middleware_stack is not None:
        raise RuntimeError("install_problem_handlers() must be called before the app starts")
    if getattr(app.state, "problem_handlers_installed", False):
        return
    app.state.problem_handlers_installed = True
    app.add_exception_handler(ProblemError, _handle_problem)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _handle_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)  # type: ignore[arg-type]
    # Errors escaping another middleware only reach Starlette's outermost ServerErrorMiddleware.
    app.add_exception_handler(Exception, _handle_unexpected)
    # Errors of routes are caught innermost instead, so the 500 still passes through the other
    # middlewares (request id, telemetry) and is not re-raised to the server. add_middleware()
    # always inserts outermost, so appending keeps this one innermost whatever is added later.
    app.user_middleware.append(Middleware(UnexpectedErrorMiddleware))
    _document_problem_schemas(app)


async def _handle_problem(request: Request, exc: ProblemError) -> Response:
    return problem_response(exc, request.url.path)


async def _handle_validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = field_errors(exc.errors())
    problem = ProblemError(
        422,
        slug_for_status(422),
        "Request validation failed",
        f"The request has {len(errors)} invalid value(s).",
        extensions={"errors": errors},
    )
    return problem_response(problem, request.url.path)


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic/FastAPI validation errors as ``{"pointer", "detail"}`` entries.

    Only the location and the message are kept: the rejected input and the error context may hold
    personal data or secrets, and the client knows what it sent anyway.
    """
    return [
        {"pointer": json_pointer(error.get("loc", ())), "detail": str(error.get("msg", "Invalid value"))}
        for error in errors
    ]


def json_pointer(location: Iterable[Any]) -> str:
    """An RFC 6901 pointer for a pydantic error location, e.g. ``("body", "items", 0)`` -> /body/items/0."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in location)


async def _handle_http_exception(request: Request, exc: StarletteHTTPException) -> Response:
    headers = dict(exc.headers or {})
    if exc.status_code in (204, 304):
        # These statuses must not have a body (RFC 9110); Starlette answers them the same way.
        return Response(status_code=exc.status_code, headers=headers)
    title = _title_for(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    problem = ProblemError(exc.status_code, slug_for_status(exc.status_code), title, detail, headers=headers)
    return problem_response(problem, request.url.path)


def internal_error() -> ProblemError:
    """The problem every unexpected error becomes: nothing about its cause is disclosed."""
    return ProblemError(
        500,
        slug_for_status(500),
        "Internal Server Error",
        "An unexpected error occurred. Please try again later.",
    )


def _log_unexpected(exc: BaseException, method: str, path: str) -> None:
    logger.exception("unexpected error handling %s %s", method, path, exc_info=exc)
    # With the exception handled here, tracing middleware only sees a 500; keep the cause on the span.
    span = trace.get_current_span()
    span.record_exception(exc)
    span.set_status(trace.Status(trace.StatusCode.ERROR))


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ProblemError):  # raised by a middleware, outside the ExceptionMiddleware
        return problem_response(exc, request.url.path)
    _log_unexpected(exc, request.method, request.url.path)
    return problem_response(internal_error(), request.url.path)


class UnexpectedErrorMiddleware:
    """Answer any exception escaping the routes with a 500 problem (installed innermost)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def watching_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        except Exception as exc:
            if response_started:
                # Too late for a problem document: let the server abort the response.
                raise
            _log_unexpected(exc, scope.get("method", ""), scope.get("path", ""))
            await problem_response(internal_error(), scope.get("path"))(scope, receive, send)


# --- OpenAPI --------------------------------------------------------------------------------------


def _document_problem_schemas(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            add_problem_schemas(generate())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


def add_problem_schemas(document: dict[str, Any]) -> None:
    """Register the problem schemas in an OpenAPI document and make FastAPI's 422s problems.

    FastAPI documents a 422 with its own `HTTPValidationError` shape on every route with parameters;
    the handlers above never send that shape, so those responses are rewritten.
    """
    _, top = models_json_schema(
        [(Problem, "serialization"), (ValidationProblem, "serialization")],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in top.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    for operation in _operations(document):
        response = operation.get("responses", {}).get("422")
        if response is not None and _is_fastapi_validation_error(response):
            operation["responses"]["422"] = _documented_problem(422) | {"description": "Validation Error"}
    if not _references(document, "#/components/schemas/HTTPValidationError"):
        schemas.pop("HTTPValidationError", None)
        if not _references(document, "#/components/schemas/ValidationError"):
            schemas.pop("ValidationError", None)


def _operations(document: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "responses" in operation:
                yield operation


def _is_fastapi_validation_error(response: Mapping[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref") == "#/components/schemas/HTTPValidationError")


def _references(node: Any, ref: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == ref or any(_references(value, ref) for value in node.values())
    if isinstance(node, list):
        return any(_references(item, ref) for item in node)
    return False
