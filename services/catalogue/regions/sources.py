"""Where an import reads its lines from: a file, lines in memory, or a stream (an HTTP body)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from pathlib import Path

#: A path to a file, or its lines (text or bytes, with or without line endings), possibly streamed.
Source = str | os.PathLike[str] | Iterable[str | bytes] | AsyncIterable[str | bytes]


async def numbered_lines(source: Source) -> AsyncIterator[tuple[int, str | bytes]]:
    """The lines of `source` with their numbers, from 1."""
    number = 0
    if isinstance(source, str | os.PathLike):
        # The files are a few megabytes: one read off the event loop, then split.
        data = await asyncio.to_thread(Path(source).read_bytes)
        for raw in data.splitlines():
            number += 1
            yield number, raw
    elif isinstance(source, AsyncIterable):
        async for line in source:
            number += 1
            yield number, line
    else:
        for text in source:
            number += 1
            yield number, text


def decoded(raw: str | bytes) -> str | None:
    """A line as text: bytes are UTF-8, or else Windows-1252 (older Destatis releases); None when
    they are neither."""
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return None
