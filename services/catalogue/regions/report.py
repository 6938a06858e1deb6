"""What an import tells its caller: counts, skipped lines with reasons, and progress while it runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from contracts.catalogue import Model, RegionLevel

#: At most this many skipped lines are listed one by one; all are counted.
MAX_LISTED_SKIPS = 1000


class ImportRejectedError(Exception):
    """An import that is refused as a whole: nothing was written."""

    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail


class SkippedRow(Model):
    """A line of the input that was not used."""

    line: int = Field(description="Line number in the file, from 1.")
    reason: str = Field(description="Stable reason code, e.g. invalid-key, unknown-ags.")
    detail: str


class LevelCounts(Model):
    """What an import of the register did at one level of the hierarchy."""

    added: int = 0
    renamed: int = 0
    moved: int = 0
    ended: int = 0
    successors_inferred: int = Field(0, description="Ended regions whose successors were inferred.")
    restored: int = 0
    updated: int = Field(0, description="Register fields (population, area, type) changed in place.")
    unchanged: int = 0


class ImportReport(Model):
    """The outcome of importing the register or the postal codes."""

    kind: Literal["register", "postal-codes"]
    register_date: dt.date | None = Field(None, description="Territorial status of the register imported.")
    previous_register_date: dt.date | None = Field(None, description="The register loaded before it.")
    records: int = Field(0, description="Usable records read.")
    added: int = 0
    renamed: int = 0
    moved: int = 0
    ended: int = 0
    restored: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = Field(0, description="Postal-code assignments no longer in the file.")
    remapped: int = Field(0, description="Postal-code rows whose ended Gemeinde was replaced by its successors.")
    skipped: int = 0
    skip_reasons: dict[str, int] = Field(default_factory=dict)
    skipped_rows: list[SkippedRow] = Field(default_factory=list, description=f"The first {MAX_LISTED_SKIPS}.")
    levels: dict[RegionLevel, LevelCounts] = Field(default_factory=dict)
    events: int = Field(0, description="Change events recorded (feed and outbox).")
    seconds: float = 0.0


Phase = Literal["reading", "writing", "announcing", "done"]


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """How far an import is: `done` of `total` (None when unknown) in a phase."""

    phase: Phase
    done: int
    total: int | None = None
