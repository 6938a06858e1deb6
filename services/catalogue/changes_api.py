"""``GET /aenderungen``: the change feed, for portals and search engines that mirror the catalogue.

The cursor is the sequence number of the last change read. It is not signed like the list cursors:
a mirror keeps it for weeks, across our deployments and secret rotations, and a sequence number of
public changes reveals nothing.
"""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncSession

from kit.auth import Principal, optional_principal
from kit.http.problems import problem_responses
from services.catalogue.changes import changes_after
from services.catalogue.editorial.api import EDIT_SCOPE
from services.catalogue.sessions import read_session

router = APIRouter(tags=["changes"])


class ChangeView(BaseModel):
    """One change: the event announcing it, as published on Kafka."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    seq: int = Field(description="Position in the feed; pass it as `cursor` to read what came after.")
    occurred_at: dt.datetime
    type: str = Field(description="The CloudEvents type, e.g. de.basisdienste.catalogue.record.published.v1")
    subject: str = Field(description="The record id or the region's ARS.")
    tenant: str | None
    data: dict[str, Any]


class ChangePage(BaseModel):
    """Changes in commit order, and the cursor to continue from (also when there were none)."""

    items: list[ChangeView]
    next: str = Field(description="Pass as `cursor` to read the changes after these.")


@router.get(
    "/aenderungen",
    summary="Read the change feed",
    description=(
        "Every change to the catalogue in commit order: publications, withdrawals and region changes "
        "for everyone; with an editor's token, also the drafts of the editor's tenant. Poll with the "
        "`next` cursor of the previous answer; start with `cursor=0`."
    ),
    response_model=ChangePage,
    responses=problem_responses(401, 422),
)
async def read_changes(
    session: Annotated[AsyncSession, Depends(read_session)],
    principal: Annotated[Principal | None, Depends(optional_principal)],
    cursor: Annotated[str, Query(pattern=r"^\d{1,18}$", description="Sequence number to read after.")] = "0",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ChangePage:
    """Up to `limit` changes after `cursor`."""
    editor_tenant = principal.tenant if principal and principal.has_scopes(EDIT_SCOPE) else None
    changes = await changes_after(session, int(cursor), limit=limit, editor_tenant=editor_tenant)
    items = [
        ChangeView(
            seq=change.seq,
            occurred_at=change.occurred_at,
            type=change.event_type,
            subject=change.subject,
            tenant=change.tenant,
            data=change.data,
        )
        for change in changes
    ]
    return ChangePage(items=items, next=str(changes[-1].seq if changes else int(cursor)))
