"""``Idempotency-Key`` for requests that create things: a retried request has its effect exactly once.

The key is stored in the caller's own transaction, beside the effect, so both commit or neither
does. A retry with the same key and body gets the first response again; the same key with another
body (or on another route) is a 409. Two requests racing with one key both do the work, but only
one can insert the key: the other's transaction fails on the primary key, is rolled back, and it
answers with the winner's response instead.

Wiring, once per app::

    install_idempotency(app, sessions=database.session, scope=caller_of)

and in a route, which returns a ready :class:`Response` and so names its model in ``response_model``::

    @router.post("/things", status_code=201, response_model=ThingOut, responses=problem_responses(409))
    async def create_thing(body: ThingIn, idem: Annotated[Idempotency, Depends(idempotency)]) -> Response:
        async with database.session() as session, session.begin():
            if (replay := await idem.replay(session)) is not None:
                return replay
            thing = await service.create_thing(session, body)
            return await idem.remember(session, status_code=201, body=ThingOut.model_validate(thing))

Keys are kept for 24 hours; call :func:`purge_expired` periodically (in the worker role).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import FastAPI, Header, Request
from fastapi.encoders import jsonable_encoder
from sqlalchemy import (
    Column,
    ColumnElement,
    CursorResult,
    Integer,
    String,
    Table,
    and_,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse, Response

from kit.db import KIT_METADATA, JSONType, UTCDateTime, utcnow
from kit.http.problems import ProblemError

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
#: Set on replayed responses, as Stripe does, so clients and logs can tell a replay from a first answer.
REPLAYED_HEADER = "Idempotent-Replayed"
ANONYMOUS_SCOPE = "anonymous"
KEY_TTL = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255
#: Response headers worth replaying; others (dates, request ids, cookies) belong to one response only.
STORED_HEADERS = frozenset({"location", "content-location", "etag"})

_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")

logger = logging.getLogger(__name__)

idempotency_keys = Table(
    "idempotency_keys",
    KIT_METADATA,
    # Whose key it is (tenant, client, subject, or "anonymous"): one caller's keys never meet another's.
    Column("scope", String(255), primary_key=True),
    Column("key", String(MAX_KEY_LENGTH), primary_key=True),
    Column("method", String(16), nullable=False),
    Column("path", String(2048), nullable=False),
    Column("body_hash", String(64), nullable=False),  # SHA-256 (hex) of the raw request body
    Column("status_code", Integer, nullable=False),
    Column("response_body", JSONType, nullable=True),
    Column("response_headers", JSONType, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

#: Finds whose key a request uses, e.g. ``"<tenant>:<client id>"``; None means anonymous.
ScopeResolver = Callable[[Request], Awaitable[str | None]]
#: Opens a session of the service's database, e.g. ``Database.session``.
SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


async def anonymous_scope(request: Request) -> str | None:
    """The scope of every key until authentication supplies a better one."""
    return None


@dataclass(frozen=True)
class IdempotencySettings:
    """How an app stores idempotency keys; set by :func:`install_idempotency`."""

    #: Used only to read a concurrent winner's response after the caller's transaction failed.
    sessions: SessionFactory
    scope: ScopeResolver = anonymous_scope
    ttl: dt.timedelta = KEY_TTL


def install_idempotency(
    app: FastAPI,
    sessions: SessionFactory,
    *,
    scope: ScopeResolver = anonymous_scope,
    ttl: dt.timedelta = KEY_TTL,
) -> None:
    """Enable the :func:`idempotency` dependency in `app`, storing keys in `sessions`' database."""
    app.state.idempotency = IdempotencySettings(sessions=sessions, scope=scope, ttl=ttl)


def invalid_key() -> ProblemError:
    """The 400 problem of an Idempotency-Key that is empty, too long or not printable ASCII."""
    return ProblemError(
        400,
        "invalid-idempotency-key",
        "Invalid Idempotency-Key",
        f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
    )


def key_reused() -> ProblemError:
    """The 409 problem of a key sent again with another request."""
    return ProblemError(
        409,
        "idempotency-key-reused",
        "Idempotency-Key reused",
        "This Idempotency-Key was used for a different request; use a new key for a new request.",
    )


def key_in_use() -> ProblemError:
    """The 409 problem of a key whose first request's response cannot be read (yet)."""
    return ProblemError(
        409,
        "idempotency-key-in-use",
        "Idempotency-Key in use",
        "Another request with this Idempotency-Key is being processed; retry later.",
        headers={"Retry-After": "1"},
    )


class Idempotency:
    """The idempotency state of one request; obtained from the :func:`idempotency` dependency."""

    def __init__(
        self,
        settings: IdempotencySettings,
        key: str | None,
        *,
        scope: str = ANONYMOUS_SCOPE,
        method: str = "",
        path: str = "",
        body_hash: str = "",
    ) -> None:
        self.settings = settings
        self.key = key
        self.scope = scope
        self.method = method
        self.path = path
        self.body_hash = body_hash

    async def replay(self, session: AsyncSession) -> Response | None:
        """The stored response of this key's first request, or None to go ahead and do the work.

        Raises the 409 `idempotency-key-reused` problem when the key was used for another request.
        """
        if self.key is None:
            return None
        stored = await self._load(session)
        if stored is None:
            return None
        if stored["created_at"] < utcnow() - self.settings.ttl:
            # Expired but not yet purged: forget it in this transaction so remember() can insert.
            await session.execute(delete(idempotency_keys).where(self._row_is_mine()))
            return None
        return self._replay_of(stored)

    async def remember(
        self,
        session: AsyncSession,
        *,
        status_code: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """The response to send, with the key stored in `session`'s transaction.

        Return its result from the route right away. If a concurrent request with the same key
        committed first, `session`'s transaction is rolled back here (undoing this request's effect)
        and the winner's response is returned instead; if that cannot be read, the 409
        `idempotency-key-in-use` problem is raised.
        """
        content = jsonable_encoder(body)
        response = _response(status_code, content, dict(headers or {}))
        if self.key is None:
            return response
        # The caller's own pending changes are flushed first, so that their constraint violations
        # surface as their own errors and are not mistaken for a concurrent use of the key.
        await session.flush()
        stored_headers = {name: value for name, value in (headers or {}).items() if name.lower() in STORED_HEADERS}
        row = {
            "scope": self.scope,
            "key": self.key,
            "method": self.method,
            "path": self.path,
            "body_hash": self.body_hash,
            "status_code": status_code,
            "response_body": content,
            "response_headers": stored_headers,
            "created_at": utcnow(),
        }
        try:
            await session.execute(insert(idempotency_keys).values(row))
        except IntegrityError:
            await session.rollback()
            return await self._replay_winner()
        return response

    async def _replay_winner(self) -> Response:
        try:
            async with self.settings.sessions() as session, session.begin():
                stored = await self._load(session)
        except SQLAlchemyError:
            logger.exception("could not read the stored response of a concurrently used idempotency key")
            stored = None
        if stored is None:
            raise key_in_use()
        return self._replay_of(stored)

    async def _load(self, session: AsyncSession) -> RowMapping | None:
        result = await session.execute(select(idempotency_keys).where(self._row_is_mine()))
        return result.mappings().one_or_none()

    def _row_is_mine(self) -> ColumnElement[bool]:
        return and_(idempotency_keys.c.scope == self.scope, idempotency_keys.c.key == self.key)

    def _replay_of(self, stored: RowMapping) -> Response:
        same_request = (stored["method"], stored["path"], stored["body_hash"]) == (
            self.method,
            self.path,
            self.body_hash,
        )
        if not same_request:
            raise key_reused()
        headers = dict(stored["response_headers"] or {}) | {REPLAYED_HEADER: "true"}
        return _response(stored["status_code"], stored["response_body"], headers)


def _response(status_code: int, content: Any, headers: dict[str, str]) -> Response:
    if content is None:
        return Response(status_code=status_code, headers=headers)
    return JSONResponse(content, status_code=status_code, headers=headers)


async def idempotency(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            description="Client-chosen unique key (e.g. a UUID): a retry with the same key and body "
            "gets the first response again instead of creating another resource. Kept for 24 hours.",
        ),
    ] = None,
) -> Idempotency:
    """FastAPI dependency: the request's :class:`Idempotency` (a 400 problem for a malformed key)."""
    settings = getattr(request.app.state, "idempotency", None)
    if not isinstance(settings, IdempotencySettings):
        raise RuntimeError("install_idempotency(app, ...) was not called for this app")
    if key is None:
        return Idempotency(settings, None)
    if len(key) > MAX_KEY_LENGTH or not _PRINTABLE_ASCII.fullmatch(key):
        raise invalid_key()
    body = await request.body()
    return Idempotency(
        settings,
        key,
        scope=await settings.scope(request) or ANONYMOUS_SCOPE,
        method=request.method,
        path=request.url.path,
        body_hash=hashlib.sha256(body).hexdigest(),
    )


async def purge_expired(session: AsyncSession, older_than: dt.timedelta = KEY_TTL) -> int:
    """Delete the keys stored more than `older_than` ago, in `session`'s transaction; returns how many."""
    result = await session.execute(
        delete(idempotency_keys).where(idempotency_keys.c.created_at < utcnow() - older_than)
    )
    return cast(CursorResult[Any], result).rowcount
