"""The regions API: public reads of regions and postal codes, and the admins' imports.

Routes take their database from ``request.app.state.database`` (the :class:`kit.db.Database` the
kit's app factory sets up) through :func:`kit.service.get_database`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.catalogue import ARS_PATTERN, RegionLevel
from kit.auth import Principal, require_scopes
from kit.db import Database
from kit.http.body_limit import payload_too_large
from kit.http.pagination import Page, PageParams, paginate
from kit.http.problems import ProblemError, problem_responses
from kit.service import get_database
from services.catalogue.regions.directory import RegionDirectory
from services.catalogue.regions.importer import import_register, region_of
from services.catalogue.regions.models import PostalCode, RegionPeriod, TerritorialChange
from services.catalogue.regions.names import name_key, name_plain
from services.catalogue.regions.postal_codes import import_postal_codes
from services.catalogue.regions.report import ImportRejectedError, ImportReport
from services.catalogue.regions.schemas import (
    PostalCodeGemeinde,
    PostalCodeView,
    RegionDetail,
    RegionPeriodView,
    RegionRef,
    RegionView,
    TerritorialChangeView,
)
from services.catalogue.regions.territory import ARS_LENGTHS, GERMANY_ARS

ADMIN_SCOPE = "catalogue:admin"
#: Upper bounds of the import bodies: the register is about 3.5 MB, the postal codes under 1 MB.
MAX_REGISTER_BYTES = 32 * 2**20
MAX_POSTAL_CODES_BYTES = 8 * 2**20
#: Records are a few hundred bytes; a longer "line" means the body is not the file it claims to be.
MAX_LINE_BYTES = 64 * 2**10

router = APIRouter(tags=["regionen"])

ArsPath = Annotated[str, Path(pattern=ARS_PATTERN, description="Amtlicher Regionalschlüssel; '0' = Germany.")]
AsOf = Annotated[dt.date | None, Query(alias="asOf", description="The day to look at; default: now.")]


async def region_session(database: Annotated[Database, Depends(get_database)]) -> AsyncIterator[AsyncSession]:
    """A session on the service's database for one request."""
    async with database.session() as session:
        yield session


Session = Annotated[AsyncSession, Depends(region_session)]


def _in_force(as_of: dt.date | None) -> ColumnElement[bool]:
    if as_of is None:
        return RegionPeriod.valid_to.is_(None)
    return and_(
        or_(RegionPeriod.valid_from.is_(None), RegionPeriod.valid_from <= as_of),
        or_(RegionPeriod.valid_to.is_(None), RegionPeriod.valid_to >= as_of),
    )


def _starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result: ColumnElement[bool] = column.like(escaped + "%", escape="\\")
    return result


@router.get(
    "/regionen",
    response_model=Page[RegionView],
    summary="List regions of the ARS hierarchy",
    description="Regions in force now (or on `asOf`), by ARS, filtered by level, parent and name prefix.",
    responses=problem_responses(400, 422),
)
async def list_regions(
    session: Session,
    page: Annotated[PageParams, Depends()],
    level: Annotated[RegionLevel | None, Query(description="Only regions of this level.")] = None,
    parent: Annotated[str | None, Query(pattern=ARS_PATTERN, description="Only regions directly below.")] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Name prefix; case, umlauts and accents are ignored."),
    ] = None,
    as_of: AsOf = None,
) -> Page[RegionView]:
    """Regions, paged by ARS."""
    query = select(RegionPeriod).where(_in_force(as_of))
    if level is not None:
        query = query.where(RegionPeriod.level == level)
    if parent is not None:
        query = query.where(RegionPeriod.parent_ars == parent)
    if q is not None and q.strip():
        query = query.where(
            or_(
                _starts_with(RegionPeriod.name_key, name_key(q)),
                _starts_with(RegionPeriod.name_plain, name_plain(q)),
            )
        )
    listed = await paginate(
        session, query, key_columns=[RegionPeriod.ars, RegionPeriod.id], params=page, to_item=lambda row: row[0]
    )
    successors, predecessors = await _links(session, [period.ars for period in listed.items])
    return Page[RegionView](
        items=[_view(period, successors, predecessors) for period in listed.items], next=listed.next
    )


@router.get(
    "/regionen/{ars}",
    response_model=RegionDetail,
    summary="Get a region with its ancestors, history and territorial changes",
    description=(
        "The region in force now (or on `asOf`); an ended region without `asOf` is shown as it last was, "
        "with its end date and successors."
    ),
    responses=problem_responses(404, 422),
)
async def get_region(session: Session, ars: ArsPath, as_of: AsOf = None) -> RegionDetail:
    """One region in detail."""
    chain = [ars[:length] for length in sorted(set(ARS_LENGTHS.values())) if length < len(ars)] + [ars]
    periods = (await session.scalars(select(RegionPeriod).where(RegionPeriod.ars.in_([GERMANY_ARS, *chain])))).all()
    successors, predecessors = await _links(session, chain)
    regions = RegionDirectory(region_of(period, successors, predecessors) for period in periods)
    history = regions.history(ars)
    region = regions.get(ars, as_of) if as_of is not None else regions.latest(ars)
    if region is None:
        raise ProblemError(404, "region-not-found", "Region not found", f"No region {ars} in force then.")
    period = next(p for p in periods if p.ars == ars and p.valid_from == region.valid_from)
    changes = (
        await session.scalars(
            select(TerritorialChange)
            .where(or_(TerritorialChange.predecessor_ars == ars, TerritorialChange.successor_ars == ars))
            .order_by(TerritorialChange.effective_date, TerritorialChange.id)
        )
    ).all()
    return RegionDetail(
        **_view(period, successors, predecessors).model_dump(),
        ancestors=regions.ancestors(ars, as_of),
        history=[RegionPeriodView(name=p.name, valid_from=p.valid_from, valid_to=p.valid_to) for p in history],
        changes=[
            TerritorialChangeView(
                kind=change.kind,
                predecessor_ars=change.predecessor_ars,
                successor_ars=change.successor_ars,
                effective_date=change.effective_date,
                previous_register_date=change.previous_register_date,
                method=change.method,
            )
            for change in changes
        ],
    )


@router.get(
    "/postleitzahlen/{plz}",
    response_model=PostalCodeView,
    summary="Find the Gemeinden of a postal code",
    description="Every Gemeinde the postal code reaches into: a postal code may span several.",
    responses=problem_responses(404, 422),
)
async def get_postal_code(
    session: Session, plz: Annotated[str, Path(pattern=r"^\d{5}$", description="A postal code.")]
) -> PostalCodeView:
    """The candidate Gemeinden of a postal code, by ARS."""
    gemeinden = (
        await session.scalars(
            select(RegionPeriod)
            .join(PostalCode, PostalCode.ags == RegionPeriod.ags)
            .where(PostalCode.plz == plz, RegionPeriod.level == "gemeinde", RegionPeriod.valid_to.is_(None))
            .order_by(RegionPeriod.ars)
        )
    ).all()
    if not gemeinden:
        raise ProblemError(404, "postal-code-not-found", "Postal code not found", f"No Gemeinde has {plz}.")
    kreise = {
        period.ars: period.name
        for period in await session.scalars(
            select(RegionPeriod).where(
                RegionPeriod.ars.in_({gemeinde.ars[:5] for gemeinde in gemeinden}), RegionPeriod.valid_to.is_(None)
            )
        )
    }
    return PostalCodeView(
        postleitzahl=plz,
        gemeinden=[
            PostalCodeGemeinde(
                ars=gemeinde.ars,
                ags=gemeinde.ags or "",
                name=gemeinde.name,
                kreis=RegionRef(ars=gemeinde.ars[:5], name=kreise[gemeinde.ars[:5]])
                if gemeinde.ars[:5] in kreise
                else None,
            )
            for gemeinde in gemeinden
        ],
    )


_IMPORT_BODY = {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}


@router.put(
    "/regionen/register",
    response_model=ImportReport,
    summary="Import the municipality register (GV100AD)",
    description=(
        "The GV100AD file as the body (`text/plain`, UTF-8). Loads the regions and records the territorial "
        "changes against the register loaded before; the same file again changes nothing. "
        f"Requires the scope `{ADMIN_SCOPE}`."
    ),
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
    openapi_extra={"requestBody": _IMPORT_BODY},
)
async def put_register(
    request: Request,
    database: Annotated[Database, Depends(get_database)],
    _admin: Annotated[Principal, Depends(require_scopes(ADMIN_SCOPE))],
    register_date: Annotated[
        dt.date | None, Query(alias="registerDate", description="Effective date; default: the Gebietsstand.")
    ] = None,
) -> ImportReport:
    """Import the register in the body."""
    _require_media_type(request, ("text/plain",))
    async with database.session() as session, session.begin():
        return await _imported(
            import_register(session, body_lines(request, MAX_REGISTER_BYTES), register_date=register_date)
        )


@router.put(
    "/postleitzahlen",
    response_model=ImportReport,
    summary="Import the postal-code assignment",
    description=(
        "The CSV `osm_id,ags,ort,plz,landkreis,bundesland` as the body (`text/csv` or `text/plain`). The "
        f"assignment becomes the file's; the same file again changes nothing. Requires the scope `{ADMIN_SCOPE}`."
    ),
    responses=problem_responses(400, 401, 403, 413, 415, 422),
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def put_postal_codes(
    request: Request,
    database: Annotated[Database, Depends(get_database)],
    _admin: Annotated[Principal, Depends(require_scopes(ADMIN_SCOPE))],
) -> ImportReport:
    """Import the postal codes in the body."""
    _require_media_type(request, ("text/csv", "text/plain"))
    async with database.session() as session, session.begin():
        return await _imported(import_postal_codes(session, body_lines(request, MAX_POSTAL_CODES_BYTES)))


async def _imported(running: Awaitable[ImportReport]) -> ImportReport:
    try:
        report = await running
    except ImportRejectedError as refused:
        status = 409 if refused.slug == "register-out-of-date" else 422
        raise ProblemError(status, refused.slug, "Import refused", refused.detail) from None
    return report


def _require_media_type(request: Request, accepted: Sequence[str]) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in accepted:
        raise ProblemError(
            415,
            "unsupported-media-type",
            "Unsupported Media Type",
            f"Send the file as {' or '.join(accepted)}.",
        )


async def body_lines(request: Request, max_bytes: int) -> AsyncIterator[bytes]:
    """The request body split into lines as it arrives, never more than `max_bytes` in all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise payload_too_large(max_bytes)
    received = 0
    pending = b""
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise payload_too_large(max_bytes)
        *lines, pending = (pending + chunk).split(b"\n")
        if len(pending) > MAX_LINE_BYTES:
            raise ProblemError(422, "line-too-long", "Line too long", f"A line is longer than {MAX_LINE_BYTES} bytes.")
        for line in lines:
            yield line
    if pending:
        yield pending


async def _links(session: AsyncSession, arss: Sequence[str]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    successors: dict[str, list[str]] = {}
    predecessors: dict[str, list[str]] = {}
    if not arss:
        return successors, predecessors
    rows = await session.execute(
        select(TerritorialChange.predecessor_ars, TerritorialChange.successor_ars)
        .where(or_(TerritorialChange.predecessor_ars.in_(arss), TerritorialChange.successor_ars.in_(arss)))
        .distinct()
    )
    for before, after in rows:
        if before is not None and after is not None and before != after:
            successors.setdefault(before, []).append(after)
            predecessors.setdefault(after, []).append(before)
    return successors, predecessors


def _view(period: RegionPeriod, successors: dict[str, list[str]], predecessors: dict[str, list[str]]) -> RegionView:
    return RegionView(
        **region_of(period, successors, predecessors).model_dump(),
        area_km2=float(period.area_km2) if period.area_km2 is not None else None,
        population=period.population,
        postal_code=period.postal_code,
        type=period.type_text,
        seat=period.seat,
    )
