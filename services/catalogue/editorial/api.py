"""The editors' API: the records of the caller's tenant, one collection per kind of record.

Every route requires the scope ``catalogue:edit`` and acts only inside the tenant named by the token;
another tenant's keys are indistinguishable from keys that do not exist. Versions are ETags: send
``If-Match`` to save or publish only the version you have read.
"""

import datetime as dt
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.catalogue import CONTENT_MODELS, Model, RecordKind
from kit.auth import Principal, require_scopes
from kit.http.pagination import Page, PageParams, paginate
from kit.http.problems import ProblemError, problem_responses
from services.catalogue.editorial import service
from services.catalogue.editorial.models import EditorialRecord
from services.catalogue.sessions import write_session

EDIT_SCOPE = "catalogue:edit"

#: The URL collection of each kind of record.
COLLECTIONS: dict[RecordKind, str] = {
    RecordKind.LEISTUNG: "leistungen",
    RecordKind.SPEZIALISIERUNG: "spezialisierungen",
    RecordKind.GEBUEHR: "gebuehren",
    RecordKind.ORGANISATIONSEINHEIT: "organisationseinheiten",
    RecordKind.ONLINEDIENST: "onlinedienste",
    RecordKind.ZUSTAENDIGKEIT: "zustaendigkeiten",
    RecordKind.SYNONYM: "synonyme",
}

router = APIRouter(prefix="/editorial", tags=["editorial"])

RecordKeyPath = Annotated[str, Path(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$", description="The record's key.")]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="The version (ETag) the change is based on.", max_length=40)
]
_ETAG = re.compile(r'^(W/)?"?(\d{1,9})"?$')


class Editor:
    """The caller: an editor of one tenant."""

    def __init__(self, principal: Annotated[Principal, Depends(require_scopes(EDIT_SCOPE))]) -> None:
        if not principal.tenant:
            raise ProblemError(403, "no-tenant", "The token names no tenant", "Editors act for a tenant.")
        self.tenant = principal.tenant


class RecordView(BaseModel):
    """A record as its editors see it: draft and published content, versions and status."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: uuid.UUID
    kind: RecordKind
    key: str
    tenant: str
    status: str = Field(description="draft, published, changed (published with a newer draft) or withdrawn")
    version: int
    published_version: int | None
    draft: dict[str, Any]
    published: dict[str, Any] | None
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None
    withdrawn_at: dt.datetime | None


def record_view(record: EditorialRecord) -> RecordView:
    """The API view of a record."""
    return RecordView(
        id=record.id,
        kind=RecordKind(record.kind),
        key=record.key,
        tenant=record.tenant,
        status=record.status,
        version=record.version,
        published_version=record.published_version,
        draft=record.draft,
        published=record.published,
        created_at=record.created_at,
        updated_at=record.updated_at,
        published_at=record.published_at,
        withdrawn_at=record.withdrawn_at,
    )


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names ('"3"', 'W/"3"' or '3'); None without the header."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.fullmatch(if_match.strip())
    if match is None:
        raise ProblemError(400, "invalid-if-match", "Invalid If-Match", 'If-Match must name one version, like "3".')
    return int(match.group(2))


def _answer(response: Response, record: EditorialRecord) -> RecordView:
    response.headers["ETag"] = f'"{record.version}"'
    return record_view(record)


def _add_collection(kind: RecordKind, collection: str) -> None:
    """The routes of one collection, typed with the kind's content model so the OpenAPI is exact."""
    # Evaluated when the routes are defined (no postponed annotations in this module), so FastAPI sees
    # the concrete model of each kind.
    content_model: type[Model] = CONTENT_MODELS[kind]
    label = kind.value.capitalize()

    @router.get(
        f"/{collection}",
        summary=f"List the tenant's {collection}",
        response_model=Page[RecordView],
        responses=problem_responses(400, 401, 403, 422),
        response_model_by_alias=True,
    )
    async def list_records(
        editor: Annotated[Editor, Depends()],
        session: Annotated[AsyncSession, Depends(write_session)],
        params: Annotated[PageParams, Depends()],
        status: Annotated[str | None, Query(pattern="^(draft|published|changed|withdrawn)$")] = None,
    ) -> Page[RecordView]:
        query = select(EditorialRecord).where(EditorialRecord.tenant == editor.tenant, EditorialRecord.kind == kind)
        if status == "draft":
            query = query.where(EditorialRecord.published_version.is_(None), EditorialRecord.withdrawn_at.is_(None))
        elif status == "withdrawn":
            query = query.where(EditorialRecord.published_version.is_(None), EditorialRecord.withdrawn_at.is_not(None))
        elif status == "published":
            query = query.where(EditorialRecord.published_version == EditorialRecord.version)
        elif status == "changed":
            query = query.where(EditorialRecord.published_version < EditorialRecord.version)
        return await paginate(
            session,
            query,
            key_columns=[EditorialRecord.key],
            params=params,
            to_item=lambda row: record_view(row[0]),
        )

    @router.get(
        f"/{collection}/{{key}}",
        summary=f"Read one of the tenant's {collection}",
        response_model=RecordView,
        responses=problem_responses(401, 403, 404, 422),
    )
    async def read_record(
        key: RecordKeyPath,
        editor: Annotated[Editor, Depends()],
        session: Annotated[AsyncSession, Depends(write_session)],
        response: Response,
    ) -> RecordView:
        return _answer(response, await service.get_record(session, editor.tenant, kind, key))

    @router.put(
        f"/{collection}/{{key}}",
        summary=f"Create or change the draft of a {label}",
        description="Creates the record (201) or replaces its draft (200). Unchanged content is no change.",
        response_model=RecordView,
        responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 422),
    )
    async def save_record(
        key: RecordKeyPath,
        content: Annotated[content_model, Body()],  # type: ignore[valid-type]
        editor: Annotated[Editor, Depends()],
        session: Annotated[AsyncSession, Depends(write_session)],
        response: Response,
        if_match: IfMatch = None,
    ) -> RecordView:
        saved = await service.save_draft(
            session, editor.tenant, kind, key, content, expected_version=expected_version(if_match)
        )
        if saved.outcome is service.Outcome.CREATED:
            response.status_code = 201
        return _answer(response, saved.record)

    @router.post(
        f"/{collection}/{{key}}/publish",
        summary=f"Publish the draft of a {label}",
        response_model=RecordView,
        responses=problem_responses(400, 401, 403, 404, 409, 412, 422),
    )
    async def publish_record(
        key: RecordKeyPath,
        editor: Annotated[Editor, Depends()],
        session: Annotated[AsyncSession, Depends(write_session)],
        response: Response,
        if_match: IfMatch = None,
    ) -> RecordView:
        saved = await service.publish(session, editor.tenant, kind, key, expected_version=expected_version(if_match))
        return _answer(response, saved.record)

    @router.post(
        f"/{collection}/{{key}}/withdraw",
        summary=f"Withdraw a {label} from publication",
        response_model=RecordView,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def withdraw_record(
        key: RecordKeyPath,
        editor: Annotated[Editor, Depends()],
        session: Annotated[AsyncSession, Depends(write_session)],
        response: Response,
    ) -> RecordView:
        return _answer(response, (await service.withdraw(session, editor.tenant, kind, key)).record)

    @router.delete(
        f"/{collection}/{{key}}",
        summary=f"Delete an unpublished {label}",
        status_code=204,
        responses=problem_responses(401, 403, 404, 409, 422),
    )
    async def delete_record(
        key: RecordKeyPath,
        editor: Annotated[Editor, Depends()],
        session: Annotated[AsyncSession, Depends(write_session)],
    ) -> Response:
        await service.delete(session, editor.tenant, kind, key)
        return Response(status_code=204)

    # FastAPI names operations after the function; make them unique per collection.
    for route in router.routes[-6:]:
        route.operation_id = f"{route.name}_{collection}"  # type: ignore[attr-defined]


for _kind, _collection in COLLECTIONS.items():
    _add_collection(_kind, _collection)
