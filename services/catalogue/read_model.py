"""The published catalogue in each API replica's memory, kept fresh from the change feed.

Public reads — search, responsibility lookups, a Leistung in a place — are answered from here in
microseconds, never from the database: the regions (:class:`RegionDirectory`), the published records
with their Zuständigkeiten (:class:`CatalogueReadModel`) and the search index (:class:`SearchIndex`).

At start-up one snapshot transaction reads the feed's newest sequence number and every published
record, so the state and the position agree. Afterwards the replica polls the feed for public
changes after that position and applies them in order. Each replica follows the feed on its own:
nothing is shared between replicas but the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.catalogue import CONTENT_MODELS, Leistung, Onlinedienst, Organisationseinheit, RecordKind, Synonym
from contracts.events.catalogue import RecordPublished, RegionChanged
from kit.db import Database
from kit.events.relay import sleep_or_stop
from services.catalogue.changes import Change, changes_after, last_seq
from services.catalogue.editorial.models import EditorialRecord
from services.catalogue.regions.directory import RegionDirectory, load_directory
from services.catalogue.resolution import CatalogueReadModel, PublishedRecord
from services.catalogue.search import SearchIndex
from services.catalogue.search.documents import leistung_document, organisationseinheit_document

log = logging.getLogger(__name__)

#: Changes applied per poll; a replica that fell behind catches up in several polls.
_FEED_PAGE = 1000
_SEARCHABLE = {RecordKind.LEISTUNG, RecordKind.ORGANISATIONSEINHEIT}


class NotLoadedError(RuntimeError):
    """The replica has not loaded the catalogue yet."""


class CatalogueView:
    """The published catalogue of this replica (a :class:`kit.service.Component`)."""

    name = "read_model"

    def __init__(self, database: Database, *, poll_interval: float = 0.5) -> None:
        self.database = database
        self.poll_interval = poll_interval
        self.regions = RegionDirectory([])
        self.records = CatalogueReadModel()
        self.search = SearchIndex()
        self.seq = 0
        self.loaded_at: float | None = None
        self._synonyms: dict[uuid.UUID, Synonym] = {}
        #: How many published Onlinedienste offer each LeiKa key: a Leistung is "online" while > 0.
        self._online: Counter[str] = Counter()
        self._lock = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        """Load the catalogue, then follow the change feed until `stop` is set."""
        while not stop.is_set():
            try:
                if self.loaded_at is None:
                    await self.load()
                else:
                    await self.refresh()
            except Exception as error:  # the database may be briefly away; try again
                log.warning("catalogue read model not refreshed", extra={"error": type(error).__name__})
            await sleep_or_stop(stop, self.poll_interval)

    async def check(self) -> None:
        """Ready once the catalogue is loaded."""
        if self.loaded_at is None:
            raise NotLoadedError("catalogue not loaded yet")

    async def load(self) -> None:
        """Read every published record, the regions and the feed position in one snapshot."""
        started = time.perf_counter()
        async with self._lock, self.database.engine.connect() as connection:
            if self.database.is_postgresql:
                connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with AsyncSession(bind=connection) as session, session.begin():
                seq = await last_seq(session)
                regions = await load_directory(session)
                rows = (await session.execute(_PUBLISHED)).all()
            # Building takes seconds of CPU: do it in a thread on a fresh view nobody reads yet, so the
            # process keeps answering (liveness probes) meanwhile, then take its state in one step.
            fresh = CatalogueView(self.database, poll_interval=self.poll_interval)
            await asyncio.to_thread(fresh._replace, regions, [_record(*row) for row in rows], seq)
            self._take_state_of(fresh)
        log.info(
            "catalogue loaded",
            extra={"records": len(rows), "seq": seq, "seconds": round(time.perf_counter() - started, 2)},
        )

    async def refresh(self) -> int:
        """Apply the public changes committed since the last look; how many there were."""
        applied = 0
        async with self._lock:
            while True:
                async with self.database.session() as session:
                    changes = await changes_after(session, self.seq, limit=_FEED_PAGE)
                    regions_changed = any(change.event_type == RegionChanged.event_type for change in changes)
                    if regions_changed:
                        regions = await load_directory(session)
                if not changes:
                    return applied
                for change in changes:
                    self._apply(change)
                if regions_changed:
                    self.regions = regions
                self.seq = changes[-1].seq
                applied += len(changes)

    def _replace(self, regions: RegionDirectory, records: list[PublishedRecord[Any]], seq: int) -> None:
        self.regions, self.records, self.search = regions, CatalogueReadModel(), SearchIndex()
        self._synonyms.clear()
        self._online.clear()
        for record in records:
            self._put(record, index=False)
        self.search.upsert_many(self._documents(self.records.get(r.record_id) for r in records))
        self.search.set_synonyms(self._synonyms.values())
        self.seq, self.loaded_at = seq, time.monotonic()
        # Hundreds of thousands of long-lived objects: keep the cyclic GC from walking them on every
        # full collection, which would pause requests for tens of milliseconds.
        gc.collect()
        gc.freeze()

    def _take_state_of(self, other: CatalogueView) -> None:
        self.regions, self.records, self.search = other.regions, other.records, other.search
        self._synonyms, self._online = other._synonyms, other._online
        self.seq, self.loaded_at = other.seq, other.loaded_at

    def _apply(self, change: Change) -> None:
        data = change.data
        if change.event_type == RegionChanged.event_type or "record_id" not in data:
            return
        record_id, kind = uuid.UUID(data["record_id"]), RecordKind(data["kind"])
        if change.event_type == RecordPublished.event_type:
            content = CONTENT_MODELS[kind].model_validate(data["content"])
            published_at = dt.datetime.fromisoformat(data["occurred_at"])
            record = PublishedRecord(
                record_id, kind, data["tenant"], data["record_key"], data["version"], content, published_at
            )
            self._take_out(kind, record_id)
            self._put(record, index=True)
        else:  # withdrawn (or deleted, which only follows a withdrawal)
            self._take_out(kind, record_id)

    def _put(self, record: PublishedRecord[Any], *, index: bool) -> None:
        self.records.put(record)
        content = record.content
        if isinstance(content, Synonym):
            self._synonyms[record.record_id] = content
            if index:
                self.search.set_synonyms(self._synonyms.values())
        elif isinstance(content, Onlinedienst):
            self._online.update(set(content.leika_keys))
            if index:
                self._reindex_leistungen(content.leika_keys)
        elif index and record.kind in _SEARCHABLE:
            self.search.upsert_many(self._documents([record]))

    def _take_out(self, kind: RecordKind, record_id: uuid.UUID) -> None:
        if self._synonyms.pop(record_id, None) is not None:  # synonyms are held here, not in the records
            self.search.set_synonyms(self._synonyms.values())
            return
        previous = self.records.get(record_id)  # None for rules, which are held in compact form
        self.records.remove(kind, record_id)
        if previous is None:
            return
        content = previous.content
        if isinstance(content, Onlinedienst):
            self._online.subtract(set(content.leika_keys))
            self._reindex_leistungen(content.leika_keys)
        elif kind in _SEARCHABLE:
            self.search.remove(str(record_id))

    def _reindex_leistungen(self, leika_keys: Iterable[str]) -> None:
        # A Leistung's "online" facet follows the Onlinedienste that offer it.
        self.search.upsert_many(self._documents(self.records.leistung(key) for key in set(leika_keys)))

    def _documents(self, records: Iterable[PublishedRecord[Any] | None]) -> list[Any]:
        documents = []
        for record in records:
            if record is None:
                continue
            if isinstance(record.content, Leistung):
                online = self._online[record.content.leika_key] > 0
                documents.append(leistung_document(str(record.record_id), record.content, online=online))
            elif isinstance(record.content, Organisationseinheit):
                documents.append(organisationseinheit_document(str(record.record_id), record.content))
        return documents


_PUBLISHED = select(
    EditorialRecord.id,
    EditorialRecord.kind,
    EditorialRecord.tenant,
    EditorialRecord.key,
    EditorialRecord.published_version,
    EditorialRecord.published,
    EditorialRecord.published_at,
).where(EditorialRecord.published_version.is_not(None))


def _record(
    record_id: uuid.UUID,
    kind: str,
    tenant: str,
    key: str,
    version: int,
    published: dict[str, Any],
    published_at: dt.datetime | None,
) -> PublishedRecord[Any]:
    record_kind = RecordKind(kind)
    content = CONTENT_MODELS[record_kind].model_validate(published)
    return PublishedRecord(record_id, record_kind, tenant, key, version, content, published_at)
