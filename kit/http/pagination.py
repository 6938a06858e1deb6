"""Cursor pagination of lists: ``?limit=&cursor=`` in, ``{"items": [...], "next": cursor | null}`` out.

A cursor holds the sort key of the last row of a page, as compact JSON in url-safe base64, signed
with an HMAC so clients cannot forge one (and so cannot make the database compare arbitrary values).
The next page is found by keyset pagination — ``WHERE (k1, k2) > (:v1, :v2) ORDER BY k1, k2`` — which
stays fast on deep pages and does not skip or repeat rows when rows are inserted meanwhile.

Every replica must sign with the same secret: set it at start-up with :func:`set_cursor_secret` or
the environment variable ``CURSOR_SECRET``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Row, Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeDecorator, TypeEngine

from kit.http.problems import ProblemError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
#: Cursors are short (a few sort-key values); anything longer is refused before decoding.
MAX_CURSOR_LENGTH = 1024
MIN_SECRET_BYTES = 16
CURSOR_SECRET_ENV = "CURSOR_SECRET"  # noqa: S105 - the name of the variable, not a secret

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    next: str | None = Field(description="Cursor of the next page; null on the last page.")


class PageParams:
    """The paging query parameters; use as ``params: Annotated[PageParams, Depends()]``.

    A `limit` outside 1..100 is a 422 problem like any other invalid parameter.
    """

    def __init__(
        self,
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIMIT, description="Largest number of items to return.")
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None,
            Query(
                max_length=MAX_CURSOR_LENGTH,
                description="The `next` value of the previous page; omit for the first page.",
            ),
        ] = None,
    ) -> None:
        self.limit = limit
        self.cursor = cursor


def invalid_cursor() -> ProblemError:
    """The 400 problem of a cursor this service did not issue (or issued for another list)."""
    return ProblemError(
        400,
        "invalid-cursor",
        "Invalid cursor",
        "The cursor is not one this list returned; start again without a cursor.",
    )


# --- cursors --------------------------------------------------------------------------------------


class CursorCodec:
    """Encodes sort keys into signed cursors and back, with one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"a cursor secret needs at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def encode(self, values: Sequence[Any]) -> str:
        """A cursor holding `values` (str, int, float, bool, None, UUID, datetime, date, Decimal)."""
        payload = json.dumps([_tagged(value) for value in values], separators=(",", ":"), allow_nan=False).encode()
        return _b64encode(payload) + "." + _b64encode(self._mac(payload))

    def decode(self, cursor: str) -> list[Any]:
        """The values in `cursor`; raises the 400 `invalid-cursor` problem unless this codec made it."""
        try:
            payload_part, mac_part = cursor.split(".")
            payload, mac = _b64decode(payload_part), _b64decode(mac_part)
        except (ValueError, binascii.Error):
            raise invalid_cursor() from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise invalid_cursor()
        try:
            values = json.loads(payload)
            return [_untagged(value) for value in values]
        except (ValueError, TypeError, KeyError, AttributeError):
            # Only reachable with the secret, i.e. a cursor of an incompatible older format.
            raise invalid_cursor() from None

    def _mac(self, payload: bytes) -> bytes:
        # The prefix keeps these MACs apart from anything else signed with the same secret;
        # 128 bits are plenty against forgery and keep cursors short.
        return hmac.new(self._secret, b"basisdienste-cursor-v1:" + payload, hashlib.sha256).digest()[:16]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    # validate=True: the lenient default would silently drop characters outside the alphabet.
    data = text.encode("ascii")
    return base64.b64decode(data + b"=" * (-len(data) % 4), altchars=b"-_", validate=True)


# JSON has no UUID, datetime or decimal: those travel as one-member objects naming their type, so
# they come back as the same Python type and bind to their columns unchanged.
def _tagged(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    raise TypeError(f"a {type(value).__name__} cannot be put into a cursor")


_UNTAG: dict[str, Callable[[str], Any]] = {
    "uuid": uuid.UUID,
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "decimal": Decimal,
}


def _untagged(value: Any) -> Any:
    if isinstance(value, dict):
        ((tag, text),) = value.items()
        return _UNTAG[tag](text)
    return value


_codec: CursorCodec | None = None


def set_cursor_secret(secret: bytes | None) -> None:
    """Sign cursors with `secret` from now on (at least 16 bytes, the same on every replica).

    None forgets the secret set before, so the next cursor uses ``CURSOR_SECRET`` again.
    """
    global _codec
    _codec = CursorCodec(secret) if secret is not None else None


def default_codec() -> CursorCodec:
    """The process-wide codec: the secret set at start-up, else ``CURSOR_SECRET``, else a random one."""
    global _codec
    if _codec is None:
        from_env = os.environ.get(CURSOR_SECRET_ENV)
        if from_env:
            _codec = CursorCodec(from_env.encode())
        else:
            # Fine for one process (development, tests); with several replicas a cursor from one
            # would be refused by the others, hence the warning.
            logger.warning("no cursor secret set (%s): using a random one for this process", CURSOR_SECRET_ENV)
            _codec = CursorCodec(secrets.token_bytes(32))
    return _codec


def encode_cursor(values: Sequence[Any], *, codec: CursorCodec | None = None) -> str:
    """A signed cursor holding `values`, with `codec` or the process-wide one."""
    return (codec or default_codec()).encode(values)


def decode_cursor(cursor: str, *, codec: CursorCodec | None = None) -> list[Any]:
    """The values in a cursor; raises the 400 `invalid-cursor` problem for a bad or forged one."""
    return (codec or default_codec()).decode(cursor)


# --- keyset pagination ----------------------------------------------------------------------------

KeyColumn = ColumnElement[Any] | InstrumentedAttribute[Any]


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    key_columns: Sequence[KeyColumn],
    params: PageParams,
    to_item: Callable[[Row[Any]], T],
    descending: bool = False,
    codec: CursorCodec | None = None,
) -> Page[T]:
    """One page of `stmt`'s rows in `key_columns` order, starting after `params.cursor`.

    The key columns must be NOT NULL and together unique (end with the primary key), so that every
    row has exactly one place in the order. `paginate` owns ORDER BY and LIMIT: leave them out of
    `stmt`. `to_item` receives each result row (``row[0]`` or ``row.Thing`` for ``select(Thing)``);
    the key values are appended as extra columns named ``_page_key_<n>``. Eager-load relations with
    ``selectinload``, not ``joinedload``, which would multiply the rows the LIMIT counts.
    """
    columns = [_column(key) for key in key_columns]
    if not columns:
        raise ValueError("paginate() needs at least one key column")
    codec = codec or default_codec()
    if params.cursor is not None:
        after = codec.decode(params.cursor)
        stmt = stmt.where(_beyond(columns, after, descending))
    order = [column.desc() if descending else column.asc() for column in columns]
    keys = [column.label(f"_page_key_{index}") for index, column in enumerate(columns)]
    # One row more than asked tells whether there is a next page without a COUNT.
    stmt = stmt.add_columns(*keys).order_by(None).order_by(*order).limit(params.limit + 1)
    rows = (await session.execute(stmt)).all()
    page, more = rows[: params.limit], len(rows) > params.limit
    next_cursor = codec.encode(list(page[-1][-len(keys) :])) if more else None
    return Page[T](items=[to_item(row) for row in page], next=next_cursor)


def _column(key: KeyColumn) -> ColumnElement[Any]:
    return key.expression if isinstance(key, InstrumentedAttribute) else key


def _beyond(columns: list[ColumnElement[Any]], values: list[Any], descending: bool) -> ColumnElement[bool]:
    if len(values) != len(columns) or not all(map(_fits, columns, values)):
        # Signed by us, but for a list sorted by other keys: comparing would fail in the database.
        raise invalid_cursor()
    bound = [literal(value, column.type) for column, value in zip(columns, values, strict=True)]
    if len(columns) == 1:
        return columns[0] < bound[0] if descending else columns[0] > bound[0]
    # Row-value comparison: PostgreSQL, and SQLite since 3.15.
    row, cursor_row = tuple_(*columns), tuple_(*bound)
    return row < cursor_row if descending else row > cursor_row


def _fits(column: ColumnElement[Any], value: Any) -> bool:
    type_: TypeEngine[Any] = column.type
    while isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    try:
        expected = type_.python_type
    except NotImplementedError:
        return True
    return isinstance(value, expected)
