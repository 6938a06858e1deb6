"""Bulk upsert of editorial records as NDJSON, answered as a stream of NDJSON results.

Each request line is one record: ``{"kind": "leistung", "key": "…", "content": {…}, "publish": true}``.
Each row runs in its own savepoint, so a bad row is reported and skipped and never stops the upload;
rows are committed in batches, so what was committed survives a dropped connection or a killed
process, and sending the same file again changes nothing (every row comes back ``unchanged``).

The response streams one result per line as the rows are processed, a progress line after every
batch, and a summary at the end.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Receive, Scope, Send

from contracts.catalogue import RecordKind
from kit.db import Database
from kit.http.problems import ProblemError, problem_responses
from kit.service import get_database
from services.catalogue.editorial import service
from services.catalogue.editorial.api import Editor, router

#: Rows per transaction: large enough to be fast, small enough to keep locks and lost work short.
BATCH_ROWS = 500
#: A longer line cannot be a valid record (content is bounded far below this).
MAX_LINE_BYTES = 2 * 1024 * 1024
NDJSON = "application/x-ndjson"

#: What one row does: the editorial upsert of the caller's tenant (or an importer's own).
RowApplier = Callable[[AsyncSession, "BulkRow"], Awaitable[service.Outcome]]


class BulkRow(BaseModel):
    """One line of a bulk upload."""

    model_config = ConfigDict(extra="forbid")

    kind: RecordKind
    key: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$")
    content: dict[str, Any]
    publish: bool = False


@dataclass(frozen=True, slots=True)
class RowResult:
    """What became of one line."""

    line: int
    outcome: str
    kind: str | None = None
    key: str | None = None
    problem: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The result line of the response."""
        result: dict[str, Any] = {"line": self.line, "outcome": self.outcome}
        if self.kind is not None:
            result |= {"kind": self.kind, "key": self.key}
        if self.problem is not None:
            result["problem"] = self.problem
        return result


async def ndjson_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[tuple[int, bytes | None]]:
    """(line number, line) for each line of a streamed body; None for a line longer than allowed."""
    buffer = b""
    number = 0
    skipping = False
    async for chunk in chunks:
        buffer += chunk
        while (end := buffer.find(b"\n")) >= 0:
            line, buffer = buffer[:end], buffer[end + 1 :]
            number += 1
            if skipping:
                skipping = False
                yield number, None
            elif line.strip():
                yield number, line
        if len(buffer) > MAX_LINE_BYTES:  # keep counting lines, but never hold a giant one
            buffer, skipping = b"", True
    if skipping:
        yield number + 1, None
    elif buffer.strip():
        yield number + 1, buffer


async def upsert_lines(
    database: Database,
    tenant: str,
    lines: AsyncIterable[tuple[int, bytes | None]],
    apply: RowApplier,
) -> AsyncIterator[dict[str, Any]]:
    """Apply each line in its own savepoint, committing every :data:`BATCH_ROWS` rows; yield results."""
    counts: Counter[str] = Counter()
    pending: list[RowResult] = []
    async with database.session() as session:
        transaction = await session.begin()
        async for number, line in lines:
            result = await _process(session, tenant, number, line, apply)
            pending.append(result)
            if len(pending) >= BATCH_ROWS:
                await transaction.commit()
                for committed in _flush(pending, counts):
                    yield committed
                yield {"progress": dict(counts)}
                transaction = await session.begin()
        await transaction.commit()
        for committed in _flush(pending, counts):
            yield committed
        yield {"summary": dict(counts)}


def _flush(pending: list[RowResult], counts: Counter[str]) -> list[dict[str, Any]]:
    # Results are reported only after their batch committed, so "created" means it is stored.
    lines = [result.as_json() for result in pending]
    counts.update(result.outcome for result in pending)
    counts["lines"] += len(pending)
    pending.clear()
    return lines


async def _process(
    session: AsyncSession,
    tenant: str,
    number: int,
    line: bytes | None,
    apply: RowApplier,
) -> RowResult:
    if line is None:
        return _error(
            number, None, ProblemError(413, "line-too-long", "Line too long", f"At most {MAX_LINE_BYTES} bytes.")
        )
    try:
        row = BulkRow.model_validate_json(line)
    except ValidationError as error:
        problem = ProblemError(422, "invalid-row", "The line is not a bulk row", _first_error(error))
        return _error(number, None, problem)
    savepoint = await session.begin_nested()
    try:
        outcome = await apply(session, row)
    except ProblemError as problem:
        await savepoint.rollback()
        return _error(number, row, problem)
    except IntegrityError:
        await savepoint.rollback()
        return _error(number, row, ProblemError(409, "conflict", "Conflicting change", "Retry this row."))
    await savepoint.commit()
    return RowResult(number, outcome.value, row.kind.value, row.key)


def _error(number: int, row: BulkRow | None, problem: ProblemError) -> RowResult:
    return RowResult(
        number,
        "error",
        row.kind.value if row else None,
        row.key if row else None,
        problem.to_dict(),
    )


def _first_error(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "line"
    return f"{where}: {first['msg']}"


class DuplexStreamingResponse(StreamingResponse):
    """A streamed response whose body is produced while the request body is still being read.

    Starlette's StreamingResponse listens for a client disconnect by calling ``receive()`` beside the
    body iterator; here the iterator itself reads the request through ``receive()``, and the two
    would steal each other's messages. A disconnect still ends the upload: reading the request then
    raises, the open batch rolls back, and the committed batches stay.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for chunk in self.body_iterator:
            data = chunk.encode(self.charset) if isinstance(chunk, str) else bytes(chunk)
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@router.post(
    "/bulk",
    summary="Upsert many records from NDJSON, reporting per row",
    description=(
        "One JSON object per line: `kind`, `key`, `content` (the kind's model) and optionally "
        "`publish`. The response streams one result per line (`created`, `updated`, `published`, "
        "`unchanged` or `error` with a problem document), a `progress` line after every batch of "
        f"{BATCH_ROWS} rows, and a final `summary`. Idempotent: the same upload again changes nothing."
    ),
    response_class=DuplexStreamingResponse,
    responses={200: {"content": {NDJSON: {}}}, **problem_responses(401, 403, 413, 415)},
)
async def bulk_upsert(
    request: Request,
    editor: Annotated[Editor, Depends()],
    database: Annotated[Database, Depends(get_database)],
) -> StreamingResponse:
    """Stream the request's lines through the editorial workflow and the results back."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in (NDJSON, "application/jsonl", "application/json-seq", "text/plain"):
        raise ProblemError(415, "unsupported-media-type", "Send NDJSON", f"Content-Type must be {NDJSON}.")
    tenant = editor.tenant

    async def apply(session: AsyncSession, row: BulkRow) -> service.Outcome:
        content = service.parse_content(row.kind, row.content)
        return await service.upsert(session, tenant, row.kind, row.key, content, publish_it=row.publish)

    async def body() -> AsyncIterator[bytes]:
        async for result in upsert_lines(database, tenant, ndjson_lines(request.stream()), apply):
            yield json.dumps(result, ensure_ascii=False).encode() + b"\n"

    return DuplexStreamingResponse(body(), media_type=NDJSON)
