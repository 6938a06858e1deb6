"""Publishing many records of one tenant at once: what an import does, in a few statements per batch.

The result is the same as :func:`services.catalogue.editorial.service.upsert` with ``publish_it`` for
each record — the same rows, the same change-feed entries and events, the same checks — but the
records of a batch are read with one query, new ones inserted with one multi-row insert, and their
announcements written in bulk. A national import (16,000 records) takes seconds instead of minutes.
Unchanged records produce nothing, so a re-import writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.catalogue import Gebuehr, Model, Onlinedienst, RecordKind, Spezialisierung, Zustaendigkeit
from contracts.events.catalogue import DraftSaved, RecordPublished
from kit.db import utcnow
from kit.ids import uuid7
from services.catalogue.changes import record_changes
from services.catalogue.editorial.models import EditorialRecord
from services.catalogue.editorial.service import Outcome, content_hash, content_json


@dataclass(frozen=True, slots=True)
class Item:
    """One record to publish."""

    kind: RecordKind
    key: str
    content: Model


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What became of one item; `problem` says why it was refused."""

    item: Item
    outcome: Outcome | None
    problem: str | None = None


async def publish_many(session: AsyncSession, tenant: str, items: Sequence[Item]) -> list[ItemResult]:
    """Save and publish `items` for `tenant` in the caller's transaction; refused items change nothing.

    References are checked as :func:`~services.catalogue.editorial.service.publish` checks them,
    counting what this batch publishes itself: an import may bring a Zuständigkeit and its authority
    together.
    """
    existing = await _existing(session, tenant, items)
    foreign_leistungen = await _leistungen_of_other_tenants(session, tenant, items)
    published = await _published_keys(session, tenant, items)
    for item in items:  # what this batch publishes counts as published for its own references
        published.add((item.kind, item.key))
    now = utcnow()
    results: list[ItemResult] = []
    new_rows: list[dict[str, Any]] = []
    drafts: list[DraftSaved] = []
    publications: list[RecordPublished] = []
    for item in items:
        problem = _refusal(item, foreign_leistungen, published)
        if problem is not None:
            results.append(ItemResult(item, None, problem))
            continue
        document = content_json(item.content)
        digest = content_hash(document)
        record = existing.get((item.kind, item.key))
        if record is None:
            record_id = uuid7()
            row = {
                "id": record_id,
                "kind": item.kind,
                "tenant": tenant,
                "key": item.key,
                "version": 1,
                "draft": document,
                "draft_hash": digest,
                "published": document,
                "published_version": 1,
                "created_at": now,
                "updated_at": now,
                "published_at": now,
            }
            new_rows.append(row)
            drafts.append(_event(DraftSaved, record_id, item, tenant, 1))
            publications.append(_event(RecordPublished, record_id, item, tenant, 1, content=document))
            results.append(ItemResult(item, Outcome.CREATED))
            continue
        changed = record.draft_hash != digest
        if changed:
            record.draft, record.draft_hash, record.version, record.updated_at = (
                document,
                digest,
                record.version + 1,
                now,
            )
            drafts.append(_event(DraftSaved, record.id, item, tenant, record.version))
        if changed or record.published_version != record.version:
            record.published, record.published_version = record.draft, record.version
            record.published_at, record.withdrawn_at = now, None
            publications.append(_event(RecordPublished, record.id, item, tenant, record.version, content=record.draft))
            results.append(ItemResult(item, Outcome.UPDATED if changed else Outcome.PUBLISHED))
        else:
            results.append(ItemResult(item, Outcome.UNCHANGED))
    if new_rows:
        await session.execute(insert(EditorialRecord), new_rows)
    await session.flush()
    await record_changes(session, drafts, tenant=tenant, public=False)
    await record_changes(session, publications, tenant=tenant, public=True)
    return results


def _event(event_type: type[Any], record_id: uuid.UUID, item: Item, tenant: str, version: int, **fields: Any) -> Any:
    return event_type(
        record_id=record_id,
        kind=item.kind,
        tenant=tenant,
        record_key=item.key,
        version=version,
        occurred_at=utcnow(),
        **fields,
    )


async def _existing(
    session: AsyncSession, tenant: str, items: Sequence[Item]
) -> dict[tuple[RecordKind, str], EditorialRecord]:
    if not items:
        return {}
    pairs = [(item.kind.value, item.key) for item in items]
    records = await session.scalars(
        select(EditorialRecord)
        .where(EditorialRecord.tenant == tenant, tuple_(EditorialRecord.kind, EditorialRecord.key).in_(pairs))
        .with_for_update()
    )
    return {(RecordKind(record.kind), record.key): record for record in records}


async def _leistungen_of_other_tenants(session: AsyncSession, tenant: str, items: Sequence[Item]) -> set[str]:
    keys = [item.key for item in items if item.kind is RecordKind.LEISTUNG]
    if not keys:
        return set()
    owned = await session.scalars(
        select(EditorialRecord.key).where(
            EditorialRecord.kind == RecordKind.LEISTUNG,
            EditorialRecord.key.in_(keys),
            EditorialRecord.tenant != tenant,
        )
    )
    return set(owned)


def _references(item: Item) -> list[tuple[RecordKind, str]]:
    content = item.content
    if isinstance(content, Zustaendigkeit):
        refs = [
            (RecordKind.ORGANISATIONSEINHEIT, content.organisationseinheit),
            (RecordKind.ONLINEDIENST, content.onlinedienst),
        ]
        found = [(kind, key) for kind, key in refs if key is not None]
        if content.leistungen.leika_key is not None:
            found.append((RecordKind.LEISTUNG, content.leistungen.leika_key))
        return found
    if isinstance(content, Onlinedienst):
        return [(RecordKind.LEISTUNG, key) for key in content.leika_keys]
    if isinstance(content, Gebuehr | Spezialisierung):
        return [(RecordKind.LEISTUNG, content.leika_key)]
    return []


async def _published_keys(session: AsyncSession, tenant: str, items: Sequence[Item]) -> set[tuple[RecordKind, str]]:
    """The referenced records that are published: Leistungen of any tenant, the rest of `tenant`'s."""
    wanted = {reference for item in items for reference in _references(item)}
    found: set[tuple[RecordKind, str]] = set()
    for kind in {kind for kind, _ in wanted}:
        keys = [key for wanted_kind, key in wanted if wanted_kind is kind]
        query = select(EditorialRecord.key).where(
            EditorialRecord.kind == kind, EditorialRecord.key.in_(keys), EditorialRecord.published_version.is_not(None)
        )
        if kind is not RecordKind.LEISTUNG:
            query = query.where(EditorialRecord.tenant == tenant)
        found.update((kind, key) for key in await session.scalars(query))
    return found


def _refusal(item: Item, foreign_leistungen: set[str], published: set[tuple[RecordKind, str]]) -> str | None:
    if item.kind is RecordKind.LEISTUNG:
        if getattr(item.content, "leika_key", None) != item.key:
            return "key-mismatch: a Leistung's key is its leikaKey"
        if item.key in foreign_leistungen:
            return "leistung-owned-elsewhere: another tenant describes this Leistung"
    missing = [f"{kind} {key}" for kind, key in _references(item) if (kind, key) not in published]
    return "reference-not-published: " + ", ".join(missing) if missing else None
