"""Database sessions for the catalogue's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kit.http.problems import ProblemError
from kit.service import get_database


async def write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session in a transaction that commits when the route succeeds and rolls back when it fails.

    A uniqueness violation can only come from a concurrent writer that won the race for the same
    key, so it is that writer's conflict, not a server error.
    """
    async with get_database(request).session() as session:
        try:
            async with session.begin():
                yield session
        except IntegrityError as error:
            raise ProblemError(
                409, "conflict", "Conflicting change", "Another change to the same record came first; retry."
            ) from error


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for reading (its implicit transaction ends with the request)."""
    async with get_database(request).session() as session:
        yield session
