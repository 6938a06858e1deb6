"""Properties: for random catalogues, the read model agrees with a brute-force reading of the rules.

The reference below scans every record for every question, straight from the rules of precedence
(lowest region, then key over type, then most recently published), so the indexes, the early
exits and incremental removal in the model are checked against something that has none of them.
"""

import dataclasses
import datetime as dt
import uuid
from typing import Any, Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.catalogue import Onlinedienst, Organisationseinheit, RecordKind, Zustaendigkeit
from services.catalogue.resolution import ROLLEN, CatalogueReadModel, PublishedRecord, Resolution
from tests.services.catalogue.resolution.factory import EPOCH, leistung, od, oe, rule

KEYS = ["99000000000001", "99000000000002", "99000000000003", "99000000000004"]
TYPES = ["1", "2/3", "5", "1, 2/3"]
TENANTS = ["a", "b"]
VALIDITY_BOUNDS = [dt.date(2025, 1, 1), dt.date(2025, 6, 1), dt.date(2025, 12, 31)]
ZIELE: tuple[Literal["fest", "gemeindeverwaltung"], ...] = ("fest", "gemeindeverwaltung")
ASKED_DAYS = [dt.date(2024, 12, 31), dt.date(2025, 1, 1), dt.date(2025, 6, 1), dt.date(2026, 1, 1)]

# Three Länder of three Kreise of two Gemeindeverbände of two Gemeinden. Under every region, the
# last child never gets a rule of its own (the "plain" ones), so every region with a rule still
# has Gemeinden that just inherit it: then the OZG overview's reasoning over rule regions must
# match an enumeration of the Gemeinden exactly.
GEMEINDEN = [
    f"{land}0{kreis}{verband}{gemeinde}"
    for land in ("01", "02", "03")
    for kreis in ("01", "02", "03")
    for verband in ("0001", "0002")
    for gemeinde in ("001", "002")
]


def chain(ars: str) -> list[str]:
    """The reference's own ARS chain."""
    return [ars[:length] for length in (12, 9, 5, 3, 2) if length <= len(ars)] + ["0"] if ars != "0" else ["0"]


ALL_REGIONS = sorted({region for gemeinde in GEMEINDEN for region in chain(gemeinde)})


def children(ars: str) -> list[str]:
    """The regions directly below `ars` in this world, as the region directory would give them."""
    if ars == "0":
        return sorted({gemeinde[:2] for gemeinde in GEMEINDEN})
    finer = {2: 3, 3: 5, 5: 9, 9: 12}.get(len(ars))
    return sorted({gemeinde[:finer] for gemeinde in GEMEINDEN if gemeinde.startswith(ars)}) if finer else []


def has_plain_path(region: str) -> bool:
    """Whether rules may be set here when the overview reasons without the register: not in Land 03,
    Kreis x03, Verband x0002 or Gemeinde x002, and not for a Regierungsbezirk (the one of a Land
    without Regierungsbezirke covers the whole Land, which only the register can tell)."""
    if region == "0":
        return True
    if len(region) == 3:
        return False
    parts = [(2, "03"), (5, "03"), (9, "0002"), (12, "002")]
    return not any(len(region) >= end and region[:end][-len(value) :] == value for end, value in parts)


RULE_REGIONS = [region for region in ALL_REGIONS if has_plain_path(region)]
OVERVIEW_REGIONS = ["0", "01", "02", "010", "01001", "02002", "010010001", GEMEINDEN[0]]


@st.composite
def catalogues(draw: st.DrawFn, regions: list[str]) -> tuple[list[PublishedRecord[Any]], list[uuid.UUID]]:
    """Records of a random catalogue, and the ids of those to remove again."""
    records: list[PublishedRecord[Any]] = []
    for key in KEYS[:3]:  # the fourth Leistung is not published: only key rules can answer for it
        records.append(leistung(key, draw(st.sampled_from([*TYPES, None]))))
    administered = st.sampled_from([None, *GEMEINDEN[:8], *{g[:9] for g in GEMEINDEN[:8]}])
    for tenant in TENANTS:
        for key in draw(st.lists(st.sampled_from(["o1", "o2", "o3"]), unique=True)):
            records.append(oe(tenant, key, verwaltung_von=draw(administered), minute=draw(st.integers(0, 2))))
        for key in draw(st.lists(st.sampled_from(["d1", "d2"]), unique=True)):
            records.append(od(tenant, key, draw(st.lists(st.sampled_from(KEYS), min_size=1, unique=True))))
    # Rules crowd into a few regions, so that ties and overrides are common.
    crowded = st.sampled_from(draw(st.lists(st.sampled_from(regions), min_size=1, max_size=4, unique=True)))
    for number in range(draw(st.integers(0, 12))):
        by_key = draw(st.booleans())
        ziel = draw(st.sampled_from(ZIELE))
        oe_key = draw(st.sampled_from([None, "o1", "o2", "o3"])) if ziel == "fest" else None
        od_key = draw(st.sampled_from([None, "d1", "d2"]))
        if ziel == "fest" and oe_key is None and od_key is None:
            od_key = "d1"
        ab, bis = sorted(draw(st.lists(st.sampled_from(VALIDITY_BOUNDS), min_size=2, max_size=2)))
        records.append(
            rule(
                draw(st.sampled_from(TENANTS)),
                f"r{number}",
                draw(crowded),
                leika_key=draw(st.sampled_from(KEYS)) if by_key else None,
                typen=None if by_key else draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=2)),
                oe_key=oe_key,
                od_key=od_key,
                ziel=ziel,
                rolle=draw(st.sampled_from(ROLLEN)),
                ab=draw(st.sampled_from([None, ab])),
                bis=draw(st.sampled_from([None, bis])),
                minute=draw(st.integers(0, 2)),
            )
        )
    removed = draw(st.lists(st.sampled_from([record.record_id for record in records]), unique=True, max_size=4))
    return records, removed


def build(records: list[PublishedRecord[Any]], removed: list[uuid.UUID]) -> CatalogueReadModel:
    """Put everything, take `removed` out again, and re-put a new version of one rule."""
    model = CatalogueReadModel()
    for record in records:
        model.put(record)
    for record in records:
        if record.record_id in removed:
            assert model.remove(record.kind, record.record_id)
    return model


# --- the reference ----------------------------------------------------------------------------


def canonical(typ: str | None) -> str | None:
    if typ is None:
        return None
    parts = sorted({part.strip() for part in typ.split(",")} - {""})
    return ", ".join(parts) or None


def rank(record: PublishedRecord[Any]) -> tuple[dt.datetime, int]:
    return (record.published_at or EPOCH, record.record_id.int)


def find(records: list[PublishedRecord[Any]], kind: RecordKind, tenant: str, key: str) -> PublishedRecord[Any] | None:
    return next((r for r in records if r.kind is kind and r.tenant == tenant and r.key == key), None)


def reference(records: list[PublishedRecord[Any]], leika_key: str, ars: str, day: dt.date) -> dict[str, Any]:
    """Per (role, aspect): the winning rule, how it matched, the tied losers, and what it yields."""
    leistungen = [r for r in records if r.kind is RecordKind.LEISTUNG and r.key == leika_key]
    typ = canonical(leistungen[0].content.leika_typ) if leistungen else None
    regions = chain(ars)
    summary: dict[str, Any] = {}
    for role in ROLLEN:
        for aspect in ("authority", "online"):
            candidates = []
            for record in records:
                if record.kind is not RecordKind.ZUSTAENDIGKEIT:
                    continue
                content: Zustaendigkeit = record.content
                if content.rolle != role or not content.holds_on(day) or content.ars not in regions:
                    continue
                if content.leistungen.leika_key == leika_key:
                    match = 0
                elif typ is not None and typ in {canonical(t) for t in content.leistungen.leika_typen or []}:
                    match = 1
                else:
                    continue
                if aspect == "authority" and content.ziel != "gemeindeverwaltung" and not content.organisationseinheit:
                    continue
                if aspect == "online":
                    if not content.onlinedienst:
                        continue
                    service = find(records, RecordKind.ONLINEDIENST, record.tenant, content.onlinedienst)
                    if service is not None and leika_key not in service.content.leika_keys:
                        continue
                candidates.append((regions.index(content.ars), match, record))
            if not candidates:
                continue
            best = min((depth, match) for depth, match, _ in candidates)
            tied = sorted((r for d, m, r in candidates if (d, m) == best), key=rank, reverse=True)
            winner: PublishedRecord[Zustaendigkeit] = tied[0]
            target, administration_of = yields(records, winner, aspect, ars)
            summary[f"{role}/{aspect}"] = (
                winner.record_id,
                "leika_key" if best[1] == 0 else "leika_typ",
                tuple(r.record_id for r in tied[1:]),
                target,
                administration_of,
            )
    return summary


def yields(
    records: list[PublishedRecord[Any]], winner: PublishedRecord[Zustaendigkeit], aspect: str, ars: str
) -> tuple[uuid.UUID | None, str | None]:
    content = winner.content
    if aspect == "online":
        assert content.onlinedienst is not None
        service = find(records, RecordKind.ONLINEDIENST, winner.tenant, content.onlinedienst)
        return (service.record_id if service else None), None
    if content.ziel == "fest":
        assert content.organisationseinheit is not None
        authority = find(records, RecordKind.ORGANISATIONSEINHEIT, winner.tenant, content.organisationseinheit)
        return (authority.record_id if authority else None), None
    administered = [ars, ars[:9]] if len(ars) == 12 else [ars] if len(ars) == 9 else []
    for region in administered:
        administrations: list[PublishedRecord[Organisationseinheit]] = [
            r for r in records if r.kind is RecordKind.ORGANISATIONSEINHEIT and r.content.verwaltung_von == region
        ]
        if administrations:
            own = [r for r in administrations if r.tenant == winner.tenant] or administrations
            return max(own, key=rank).record_id, region
    return None, None


def summarise(resolution: Resolution | None) -> dict[str, Any]:
    """The model's answer in the reference's shape."""
    summary: dict[str, Any] = {}
    if resolution is None:
        return summary
    for role in ROLLEN:
        resolved = resolution.role(role)
        if resolved is None:
            continue
        for aspect, found in (("authority", resolved.organisationseinheit), ("online", resolved.onlinedienst)):
            if found is None:
                continue
            assert (found.record is None) == (found.reason is not None)
            summary[f"{role}/{aspect}"] = (
                found.rule.record_id,
                found.rule.matched_by,
                found.rule.outranked,
                found.record.record_id if found.record else None,
                found.administration_of,
            )
    assert summary, "a resolution names at least one deciding rule"
    return summary


# --- the properties ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogues(ALL_REGIONS), st.sampled_from(ASKED_DAYS))
def test_resolve_equals_the_brute_force_reference(
    catalogue: tuple[list[PublishedRecord[Any]], list[uuid.UUID]], day: dt.date
) -> None:
    records, removed = catalogue
    model = build(records, removed)
    kept = [record for record in records if record.record_id not in removed]
    for leika_key in KEYS:
        for ars in [*GEMEINDEN[:12], "010010001", "01001", "01", "0"]:
            assert summarise(model.resolve(leika_key, ars, as_of=day)) == reference(kept, leika_key, ars, day)


@settings(max_examples=40, deadline=None)
@given(catalogues(ALL_REGIONS))
def test_putting_in_any_order_gives_the_same_answers(
    catalogue: tuple[list[PublishedRecord[Any]], list[uuid.UUID]],
) -> None:
    records, _ = catalogue
    forwards, backwards = build(records, []), build(records[::-1], [])
    for leika_key in KEYS:
        for ars in GEMEINDEN[::5]:
            assert summarise(forwards.resolve(leika_key, ars, as_of=ASKED_DAYS[2])) == summarise(
                backwards.resolve(leika_key, ars, as_of=ASKED_DAYS[2])
            )


def coverage_by_enumeration(model: CatalogueReadModel, region: str, day: dt.date) -> dict[str, str]:
    inside = [gemeinde for gemeinde in GEMEINDEN if region == "0" or gemeinde.startswith(region)]
    expected = {}
    for published in model.leistungen():
        online = [bool(model.online_services(published.key, gemeinde, as_of=day)) for gemeinde in inside]
        if any(online):
            expected[published.key] = "whole" if all(online) else "part"
    return expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogues(ALL_REGIONS), st.sampled_from(OVERVIEW_REGIONS))
def test_the_ozg_overview_with_the_register_equals_an_enumeration_of_the_gemeinden(
    catalogue: tuple[list[PublishedRecord[Any]], list[uuid.UUID]], region: str
) -> None:
    records, removed = catalogue
    model = build(records, removed)
    day = ASKED_DAYS[2]
    overview = model.ozg_overview(region, as_of=day, children=children)
    assert {entry.leistung.key: entry.coverage for entry in overview.leistungen} == coverage_by_enumeration(
        model, region, day
    )
    assert overview.online_whole == sum(1 for entry in overview.leistungen if entry.coverage == "whole")
    assert overview.online_part == len(overview.leistungen) - overview.online_whole
    assert overview.leistungen_total == len(list(model.leistungen()))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogues(RULE_REGIONS), st.sampled_from(OVERVIEW_REGIONS))
def test_the_ozg_overview_over_rules_alone_is_exact_where_every_rule_region_has_a_plain_gemeinde(
    catalogue: tuple[list[PublishedRecord[Any]], list[uuid.UUID]], region: str
) -> None:
    records, removed = catalogue
    model = build(records, removed)
    day = ASKED_DAYS[2]
    overview = model.ozg_overview(region, as_of=day)
    assert {entry.leistung.key: entry.coverage for entry in overview.leistungen} == coverage_by_enumeration(
        model, region, day
    )


def test_the_plain_regions_never_get_rules() -> None:
    assert "03" not in RULE_REGIONS and "01003" not in RULE_REGIONS and "010010002" not in RULE_REGIONS
    assert "010" not in RULE_REGIONS
    assert "010010001002" not in RULE_REGIONS and "010010001001" in RULE_REGIONS and "0" in RULE_REGIONS


def test_a_stale_version_after_removal_is_accepted_again() -> None:
    """A record removed and then published again (withdraw, re-publish) comes back with any version."""
    model = CatalogueReadModel()
    service = od("a", "d1", KEYS[:1])
    model.put(dataclasses.replace(service, version=3))
    model.remove(RecordKind.ONLINEDIENST, service.record_id)
    assert model.put(service)
    held = model.onlinedienst("a", "d1")
    assert held is not None and isinstance(held.content, Onlinedienst)
