"""The editorial workflow: save a draft, publish it, withdraw it, delete it — always inside one tenant.

Every change is announced in the same transaction through :func:`services.catalogue.changes.record_change`
(change feed and outbox). Repeating a change that is already in effect changes nothing and announces
nothing, which is what makes bulk uploads and imports idempotent.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.catalogue import (
    CONTENT_MODELS,
    Gebuehr,
    Model,
    Onlinedienst,
    RecordKind,
    Spezialisierung,
    Zustaendigkeit,
)
from contracts.events.catalogue import DraftSaved, RecordDeleted, RecordPublished, RecordWithdrawn
from kit.db import utcnow
from kit.http.problems import ProblemError
from kit.ids import uuid7
from services.catalogue.changes import record_change
from services.catalogue.editorial.models import EditorialRecord


class Outcome(enum.StrEnum):
    """What an upsert did."""

    CREATED = "created"
    UPDATED = "updated"
    PUBLISHED = "published"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Saved:
    """A record after a change, and what the change did."""

    record: EditorialRecord
    outcome: Outcome


def parse_content(kind: RecordKind, content: Any) -> Model:
    """Validate raw JSON content against the kind's model; a 422 problem lists what is wrong."""
    try:
        return CONTENT_MODELS[kind].model_validate(content)
    except ValidationError as error:
        raise ProblemError(
            422,
            "invalid-content",
            "The content does not fit its kind",
            f"{error.error_count()} field(s) are invalid.",
            extensions={"errors": _field_errors(error)},
        ) from error


def content_json(content: Model) -> dict[str, Any]:
    """The stored form of content: its camelCase JSON without empty optional fields."""
    return content.model_dump(mode="json", by_alias=True, exclude_none=True)


def content_hash(document: dict[str, Any]) -> str:
    """A fingerprint of content that does not depend on key order."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find_record(session: AsyncSession, tenant: str, kind: RecordKind, key: str) -> EditorialRecord | None:
    """The tenant's record of this kind and key, locked for the rest of the transaction."""
    return await session.scalar(
        select(EditorialRecord)
        .where(EditorialRecord.kind == kind, EditorialRecord.tenant == tenant, EditorialRecord.key == key)
        .with_for_update()
    )


async def get_record(session: AsyncSession, tenant: str, kind: RecordKind, key: str) -> EditorialRecord:
    """The tenant's record, or a 404 problem (also when another tenant has one with this key)."""
    record = await session.scalar(
        select(EditorialRecord).where(
            EditorialRecord.kind == kind, EditorialRecord.tenant == tenant, EditorialRecord.key == key
        )
    )
    if record is None:
        raise _not_found(kind, key)
    return record


async def save_draft(
    session: AsyncSession,
    tenant: str,
    kind: RecordKind,
    key: str,
    content: Model,
    *,
    expected_version: int | None = None,
) -> Saved:
    """Create the record or replace its draft. Unchanged content is not a change."""
    _check_key(kind, key, content)
    document = content_json(content)
    digest = content_hash(document)
    record = await find_record(session, tenant, kind, key)
    if record is not None:
        _check_version(record, expected_version)
        if record.draft_hash == digest:
            return Saved(record, Outcome.UNCHANGED)
        record.draft, record.draft_hash = document, digest
        record.version += 1
        record.updated_at = utcnow()
        outcome = Outcome.UPDATED
    else:
        if expected_version is not None:
            raise _not_found(kind, key)
        if kind is RecordKind.LEISTUNG:
            await _check_leika_key_is_free(session, tenant, key)
        now = utcnow()
        record = EditorialRecord(
            id=uuid7(),
            kind=kind,
            tenant=tenant,
            key=key,
            version=1,
            draft=document,
            draft_hash=digest,
            created_at=now,
            updated_at=now,
        )
        session.add(record)
        outcome = Outcome.CREATED
    await session.flush()
    await record_change(session, _event(DraftSaved, record), tenant=tenant, public=False)
    return Saved(record, outcome)


async def publish(
    session: AsyncSession, tenant: str, kind: RecordKind, key: str, *, expected_version: int | None = None
) -> Saved:
    """Make the draft what everyone reads. Publishing the version already published changes nothing."""
    record = await find_record(session, tenant, kind, key)
    if record is None:
        raise _not_found(kind, key)
    _check_version(record, expected_version)
    if record.published_version == record.version:
        return Saved(record, Outcome.UNCHANGED)
    content = CONTENT_MODELS[kind].model_validate(record.draft)
    await _check_references(session, tenant, content)
    record.published, record.published_version = record.draft, record.version
    record.published_at, record.withdrawn_at = utcnow(), None
    await session.flush()
    event = _event(RecordPublished, record, content=record.published)
    await record_change(session, event, tenant=tenant, public=True)
    return Saved(record, Outcome.PUBLISHED)


async def withdraw(session: AsyncSession, tenant: str, kind: RecordKind, key: str) -> Saved:
    """Take the record off publication; its draft stays. Refused while published records refer to it."""
    record = await find_record(session, tenant, kind, key)
    if record is None:
        raise _not_found(kind, key)
    if record.published_version is None:
        return Saved(record, Outcome.UNCHANGED)
    await _check_not_referenced(session, record)
    record.published, record.published_version, record.withdrawn_at = None, None, utcnow()
    await session.flush()
    await record_change(session, _event(RecordWithdrawn, record), tenant=tenant, public=True)
    return Saved(record, Outcome.UPDATED)


async def delete(session: AsyncSession, tenant: str, kind: RecordKind, key: str) -> None:
    """Delete a record that is not published (withdraw it first)."""
    record = await find_record(session, tenant, kind, key)
    if record is None:
        raise _not_found(kind, key)
    if record.published_version is not None:
        raise ProblemError(409, "record-published", "The record is published", "Withdraw it before deleting it.")
    await record_change(session, _event(RecordDeleted, record), tenant=tenant, public=False)
    await session.delete(record)
    await session.flush()


async def upsert(
    session: AsyncSession, tenant: str, kind: RecordKind, key: str, content: Model, *, publish_it: bool
) -> Outcome:
    """Save the draft and, if asked, publish it: what one row of a bulk upload or an import does."""
    saved = await save_draft(session, tenant, kind, key, content)
    if not publish_it:
        return saved.outcome
    published = await publish(session, tenant, kind, key)
    if saved.outcome is Outcome.UNCHANGED:
        return published.outcome
    return Outcome.CREATED if saved.outcome is Outcome.CREATED else Outcome.UPDATED


def _event(event_type: type[Any], record: EditorialRecord, **fields: Any) -> Any:
    return event_type(
        record_id=record.id,
        kind=record.kind,
        tenant=record.tenant,
        record_key=record.key,
        version=record.version,
        occurred_at=utcnow(),
        **fields,
    )


def _check_key(kind: RecordKind, key: str, content: Model) -> None:
    if kind is RecordKind.LEISTUNG and getattr(content, "leika_key", None) != key:
        raise ProblemError(422, "key-mismatch", "Key and content disagree", "A Leistung's key is its leikaKey.")


def _check_version(record: EditorialRecord, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != record.version:
        raise ProblemError(
            412,
            "version-mismatch",
            "The record has changed",
            f"If-Match named version {expected_version}; the record is at version {record.version}.",
            extensions={"currentVersion": record.version},
        )


async def _check_leika_key_is_free(session: AsyncSession, tenant: str, key: str) -> None:
    owner = await session.scalar(
        select(EditorialRecord.tenant).where(EditorialRecord.kind == RecordKind.LEISTUNG, EditorialRecord.key == key)
    )
    if owner is not None and owner != tenant:
        raise ProblemError(
            409,
            "leistung-owned-elsewhere",
            "Another tenant describes this Leistung",
            "Add a regional Spezialisierung instead of a second Stammtext.",
        )


async def _check_references(session: AsyncSession, tenant: str, content: Model) -> None:
    """Published records refer only to published records: a Zuständigkeit to its tenant's authority and
    online service, fees, specialisations and online services to published Leistungen."""
    missing: list[str] = []
    if isinstance(content, Zustaendigkeit):
        targets = (
            (RecordKind.ORGANISATIONSEINHEIT, content.organisationseinheit),
            (RecordKind.ONLINEDIENST, content.onlinedienst),
        )
        for kind, key in targets:
            if key is not None and not await _published_keys(session, kind, [key], tenant=tenant):
                missing.append(f"{kind} {key}")
        if content.leistungen.leika_key is not None:
            missing += await _missing_leistungen(session, [content.leistungen.leika_key])
    elif isinstance(content, Onlinedienst):
        missing += await _missing_leistungen(session, content.leika_keys)
    elif isinstance(content, Gebuehr | Spezialisierung):
        missing += await _missing_leistungen(session, [content.leika_key])
    if missing:
        raise ProblemError(
            409,
            "reference-not-published",
            "The record refers to records that are not published",
            "Publish these first: " + ", ".join(missing[:20]),
            extensions={"missing": missing[:100]},
        )


async def _missing_leistungen(session: AsyncSession, leika_keys: list[str]) -> list[str]:
    found = await _published_keys(session, RecordKind.LEISTUNG, leika_keys)
    return [f"leistung {key}" for key in leika_keys if key not in found]


async def _published_keys(
    session: AsyncSession, kind: RecordKind, keys: list[str], *, tenant: str | None = None
) -> set[str]:
    query = select(EditorialRecord.key).where(
        EditorialRecord.kind == kind, EditorialRecord.key.in_(keys), EditorialRecord.published_version.is_not(None)
    )
    if tenant is not None:
        query = query.where(EditorialRecord.tenant == tenant)
    return set((await session.scalars(query)).all())


async def _check_not_referenced(session: AsyncSession, record: EditorialRecord) -> None:
    field = {RecordKind.ORGANISATIONSEINHEIT: "organisationseinheit", RecordKind.ONLINEDIENST: "onlinedienst"}.get(
        RecordKind(record.kind)
    )
    if field is None:
        return
    users = (
        await session.scalars(
            select(EditorialRecord.key)
            .where(
                EditorialRecord.kind == RecordKind.ZUSTAENDIGKEIT,
                EditorialRecord.tenant == record.tenant,
                EditorialRecord.published[field].as_string() == record.key,
            )
            .limit(20)
        )
    ).all()
    if users:
        raise ProblemError(
            409,
            "record-referenced",
            "Published Zuständigkeiten refer to this record",
            "Withdraw or change them first: " + ", ".join(users),
            extensions={"referencedBy": list(users)},
        )


def _not_found(kind: RecordKind, key: str) -> ProblemError:
    return ProblemError(404, "not-found", "No such record", f"This tenant has no {kind} with key {key!r}.")


def _field_errors(error: ValidationError) -> list[dict[str, str]]:
    # Only location and message: never echo the input back (it may be large or hold personal data).
    return [
        {"field": ".".join(str(part) for part in item["loc"]), "message": item["msg"]}
        for item in error.errors(include_url=False, include_input=False)[:50]
    ]
