"""The public read API: search, a Leistung in a place, responsibility lookup, authorities, OZG overview.

Everything here is answered from the replica's in-memory read model (:mod:`services.catalogue.read_model`),
never from the database, and needs no token: published catalogue data is readable nationally.
"""

import datetime as dt
import uuid
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request

from contracts.catalogue import ARS_PATTERN, Organisationseinheit, Region
from kit.http.problems import ProblemError, problem_responses
from services.catalogue.opening_status import open_status
from services.catalogue.public_schemas import (
    FeeView,
    LeistungInPlace,
    OnlineLeistungView,
    OpenStatusView,
    OrganisationseinheitView,
    OzgOverviewView,
    RegionResponsibility,
    ResponsibilityAnswer,
    SearchAnswer,
    SearchHitView,
    TextView,
    record_ref,
    responsible_view,
    role_view,
)
from services.catalogue.read_model import CatalogueView
from services.catalogue.resolution import ResolvedText

router = APIRouter(tags=["public"])

BERLIN = ZoneInfo("Europe/Berlin")
LeikaKeyQuery = Annotated[str, Query(alias="leikaKey", pattern=r"^(\d{14}|X[0-9A-Za-z]{1,31})$")]
ArsQuery = Annotated[str | None, Query(pattern=ARS_PATTERN, description="Amtlicher Regionalschlüssel.")]
AsOfQuery = Annotated[dt.date | None, Query(alias="asOf", description="The day to answer for (default: today).")]


def catalogue(request: Request) -> CatalogueView:
    """FastAPI dependency: this replica's read model."""
    view: CatalogueView = request.app.state.catalogue
    return view


Catalogue = Annotated[CatalogueView, Depends(catalogue)]


def _today() -> dt.date:
    return dt.datetime.now(BERLIN).date()


def _region(view: CatalogueView, ars: str | None, ags: str | None, as_of: dt.date) -> Region:
    region = view.regions.get(ars, as_of) if ars else view.regions.by_ags(ags or "", as_of)
    if region is None:
        raise ProblemError(404, "unknown-region", "No such region", "No region has this key on the asked day.")
    return region


def _regions_asked(
    view: CatalogueView, ars: str | None, ags: str | None, plz: str | None, as_of: dt.date
) -> list[Region]:
    if sum(value is not None for value in (ars, ags, plz)) != 1:
        raise ProblemError(400, "one-place", "Name one place", "Give exactly one of ars, ags and plz.")
    if plz is not None:
        regions = view.regions.by_postal_code(plz)
        if not regions:
            raise ProblemError(404, "unknown-postal-code", "No such postal code", "No Gemeinde has this postal code.")
        return regions
    return [_region(view, ars, ags, as_of)]


@router.get(
    "/zustaendigkeiten",
    summary="Who is responsible for a Leistung in a place",
    description=(
        "The zuständige Stelle and Ansprechpunkt (authority and online service) for a LeiKa key in a "
        "region given by exactly one of `ars`, `ags` or `plz` — one answer per candidate Gemeinde when a "
        "postal code spans several — with the Zuständigkeit that decided each answer."
    ),
    response_model=ResponsibilityAnswer,
    responses=problem_responses(400, 404, 422),
)
async def lookup_responsibility(
    view: Catalogue,
    leika_key: LeikaKeyQuery,
    ars: ArsQuery = None,
    ags: Annotated[str | None, Query(pattern=r"^\d{8}$")] = None,
    plz: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
    as_of: AsOfQuery = None,
) -> ResponsibilityAnswer:
    """Resolve the responsibility for each candidate region."""
    day = as_of or _today()
    answers = []
    for region in _regions_asked(view, ars, ags, plz, day):
        resolution = view.records.resolve(leika_key, region.ars, as_of=day)
        answers.append(
            RegionResponsibility(
                region=region,
                zustaendige_stelle=role_view(resolution.zustaendige_stelle) if resolution else None,
                ansprechpunkt=role_view(resolution.ansprechpunkt) if resolution else None,
            )
        )
    leistung = view.records.leistung(leika_key)
    return ResponsibilityAnswer(
        leika_key=leika_key, as_of=day, leistung=record_ref(leistung) if leistung else None, regions=answers
    )


@router.get(
    "/leistungen/{leikaKey}",
    summary="A Leistung, for a place if one is given",
    description=(
        "The Leistung's texts in the asked language (falling back to German), overlaid by the regional "
        "Spezialisierung of the place; with `ars`, also the responsible authority, the fees and the "
        "online services there."
    ),
    response_model=LeistungInPlace,
    responses=problem_responses(404, 422),
)
async def leistung_in_place(
    view: Catalogue,
    leika_key: Annotated[str, Path(alias="leikaKey", pattern=r"^(\d{14}|X[0-9A-Za-z]{1,31})$")],
    ars: ArsQuery = None,
    as_of: AsOfQuery = None,
    sprache: Annotated[str, Query(pattern=r"^[a-z]{2,3}(-[0-9A-Za-z-]{1,32})?$")] = "de",
) -> LeistungInPlace:
    """Resolve texts, responsibility, fees and online services of a Leistung in a region."""
    day = as_of or _today()
    region = _region(view, ars, None, day) if ars else None
    texts = view.records.texts(leika_key, region.ars if region else "0", sprache)
    if texts is None:
        raise ProblemError(404, "unknown-leistung", "No such Leistung", "No published Leistung has this LeiKa key.")
    resolution = view.records.resolve(leika_key, region.ars, as_of=day) if region else None
    return LeistungInPlace(
        leika_key=leika_key,
        language=sprache,
        leistung=record_ref(texts.leistung),
        bezeichnung=_text(texts.bezeichnung),
        texte={module.value: _text(text) for module, text in texts.texte.items()},
        region=region,
        zustaendige_stelle=role_view(resolution.zustaendige_stelle) if resolution else None,
        ansprechpunkt=role_view(resolution.ansprechpunkt) if resolution else None,
        gebuehren=[
            FeeView(record=record_ref(fee.record), ars=fee.ars, inherited_from=fee.inherited_from)
            for fee in view.records.fees(leika_key, region.ars if region else "0", as_of=day)
        ],
        onlinedienste=[
            responsible_view(service) for service in view.records.online_services(leika_key, region.ars, as_of=day)
        ]
        if region
        else [],
    )


def _german(names: dict[str, str]) -> str:
    return names.get("de") or next(iter(names.values()))


def _text(text: ResolvedText) -> TextView:
    return TextView(text=text.text, language=text.language, specialised_for=text.source.ars)


@router.get(
    "/suche",
    summary="Search Leistungen and authorities",
    description=(
        "German full-text search (stemming, compound words, umlaut folding, typo tolerance, editors' "
        "synonyms) with filters and facet counts. Filters of one kind are alternatives; different "
        "kinds must all hold."
    ),
    response_model=SearchAnswer,
    responses=problem_responses(422),
)
async def search(
    view: Catalogue,
    q: Annotated[str, Query(max_length=500, description="What the citizen typed.")] = "",
    art: Annotated[list[str] | None, Query(max_length=2, description="leistung, organisationseinheit")] = None,
    themenfeld: Annotated[list[str] | None, Query(max_length=20)] = None,
    lebenslage: Annotated[list[str] | None, Query(max_length=20)] = None,
    online: Annotated[bool | None, Query(description="Only what can (or cannot) be done online.")] = None,
    ars: Annotated[
        list[str] | None, Query(max_length=20, description="Only what is relevant in these regions.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> SearchAnswer:
    """Search the read model's index."""
    filters: dict[str, list[str]] = {}
    for key, values in (("kind", art), ("themenfeld", themenfeld), ("lebenslage", lebenslage), ("region", ars)):
        if values:
            filters[key] = values
    if online is not None:
        filters["online"] = ["true" if online else "false"]
    result = view.search.search(q, filters=filters, limit=limit, offset=offset)
    return SearchAnswer(
        query=q,
        total=result.total,
        hits=[
            SearchHitView(
                id=hit.id,
                kind=hit.kind,
                title=hit.title,
                score=round(hit.score, 4),
                payload=dict(hit.payload),
                highlights=list(hit.highlights),
            )
            for hit in result.hits
        ],
        facets={key: dict(counts) for key, counts in result.facets.items()},
    )


@router.get(
    "/suche/vorschlaege",
    summary="Suggestions as the citizen types",
    response_model=list[str],
    responses=problem_responses(422),
)
async def suggest(
    view: Catalogue,
    q: Annotated[str, Query(min_length=1, max_length=100)],
    limit: Annotated[int, Query(ge=1, le=20)] = 8,
) -> list[str]:
    """Completions of what was typed so far."""
    return view.search.suggest(q, limit)


@router.get(
    "/organisationseinheiten/{id}",
    summary="An authority, and whether it is open now",
    response_model=OrganisationseinheitView,
    responses=problem_responses(404, 422),
)
async def organisationseinheit(
    view: Catalogue,
    record_id: Annotated[uuid.UUID, Path(alias="id")],
    at: Annotated[dt.datetime | None, Query(description="The moment to report on (default: now).")] = None,
) -> OrganisationseinheitView:
    """A published authority with its opening status."""
    record = view.records.get(record_id)
    if record is None or not isinstance(record.content, Organisationseinheit):
        raise ProblemError(
            404, "unknown-organisationseinheit", "No such authority", "No published authority has this id."
        )
    moment = at or dt.datetime.now(BERLIN)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BERLIN)
    return OrganisationseinheitView(
        organisationseinheit=record_ref(record), open_status=_open_status(record.content, moment)
    )


def _open_status(oe: Organisationseinheit, moment: dt.datetime) -> OpenStatusView | None:
    if not oe.oeffnungszeiten.regeln and not oe.oeffnungszeiten.ausnahmen:
        return None
    land = (oe.ars or oe.verwaltung_von or "")[:2] or None
    status = open_status(oe.oeffnungszeiten, moment, land)
    return OpenStatusView(
        at=moment,
        open=status.open,
        until=status.until,
        next_opening=status.next_opening,
        reason=status.reason,
        holiday=status.holiday_name,
    )


@router.get(
    "/ozg-uebersicht",
    summary="Which Leistungen can be applied for online in a region",
    response_model=OzgOverviewView,
    responses=problem_responses(404, 422),
)
async def ozg_overview(
    view: Catalogue,
    ars: Annotated[str, Query(pattern=ARS_PATTERN)],
    themenfeld: Annotated[str | None, Query(max_length=200)] = None,
    as_of: AsOfQuery = None,
) -> OzgOverviewView:
    """The OZG implementation status of a region."""
    day = as_of or _today()
    if ars != "0":
        _region(view, ars, None, day)
    overview = view.records.ozg_overview(
        ars,
        as_of=day,
        themenfeld=themenfeld,
        children=lambda parent: [r.ars for r in view.regions.children(parent, day)],
    )
    return OzgOverviewView(
        ars=overview.ars,
        as_of=overview.as_of,
        themenfeld=overview.themenfeld,
        leistungen_total=overview.leistungen_total,
        online_whole=overview.online_whole,
        online_part=overview.online_part,
        leistungen=[
            OnlineLeistungView(
                leika_key=item.leistung.content.leika_key,
                name=item.leistung.content.bezeichnung.get("de")
                or next(iter(item.leistung.content.bezeichnung.values())),
                coverage=item.coverage,
                onlinedienste=[record_ref(service) for service in item.onlinedienste],
                online_in=list(item.online_in),
                offline_in=list(item.offline_in),
            )
            for item in overview.leistungen
        ],
    )
