"""The read model at national size, from the real files: every Gemeinde answered by one rule."""

import datetime as dt
import random

import pytest

from contracts.catalogue import RecordKind
from services.catalogue.resolution import Resolution
from services.catalogue.resolution.rules import RegionRules, Rule
from tests.services.catalogue.resolution.national import (
    National,
    build_national,
    leistungen_records,
    register_gemeinden,
    specific_records,
)

DAY = dt.date(2025, 6, 1)


@pytest.fixture(scope="module")
def national() -> National:
    return build_national(specific_records(register_gemeinden(), leistungen_records()))


def all_rules(national: National) -> list[Rule]:
    model = national.model
    return [rule for region in model.regions_with_rules() for rule in (model.rules_at(region) or RegionRules()).rules()]


def authority_key(resolution: Resolution | None) -> str | None:
    if resolution is None or resolution.zustaendige_stelle is None:
        return None
    found = resolution.zustaendige_stelle.organisationseinheit
    return found.record.key if found is not None and found.record is not None else None


def test_every_inhabited_gemeinde_answers_the_municipal_leistungen_with_its_own_administration(
    national: National,
) -> None:
    model = national.model
    with_own_rules = {rule.leika_key for rule in all_rules(national)}
    municipal = sorted(
        key for key in national.leika_keys if model.leistung_typ(key) == "2/3" and key not in with_own_rules
    )
    rng = random.Random(3)
    without = []
    for gemeinde in national.gemeinden:
        resolution = model.resolve(rng.choice(municipal), gemeinde.ars, as_of=DAY)
        found = authority_key(resolution)
        if found is None:
            without.append(gemeinde)
        else:
            assert found == f"gv-{gemeinde.ags}"
    assert national.rules == 1
    assert len(without) == 200
    assert {gemeinde.type_text for gemeinde in without} == {"gemeindefreies Gebiet, unbewohnt"}


def test_leistungen_the_bund_executes_have_no_municipal_authority(national: National) -> None:
    federal = next(key for key in national.leika_keys if national.model.leistung_typ(key) == "1")
    assert national.model.resolve(federal, national.gemeinden[0].ars, as_of=DAY) is None


def test_kreis_and_gemeinde_rules_override_the_national_rule(national: National) -> None:
    inhabited = [g for g in national.gemeinden if g.type_text != "gemeindefreies Gebiet, unbewohnt"]
    checked = 0
    for rule in all_rules(national):
        if rule.leika_key is None or rule.organisationseinheit is None:
            continue
        gemeinde = next((g for g in inhabited if g.ars.startswith(rule.ars)), None)
        if gemeinde is None:  # no Gemeinde lives there: coastal waters, the condominium with Luxembourg
            continue
        found = authority_key(national.model.resolve(rule.leika_key, gemeinde.ars, as_of=DAY))
        assert found in {rule.organisationseinheit, f"gv-{gemeinde.ags}"}  # a Gemeinde's own rule may be below
        checked += 1
    assert checked > 2_000


def test_the_counts_and_an_overview_of_a_land(national: National) -> None:
    counts = national.model.counts()
    assert counts[RecordKind.LEISTUNG.value] == len(national.leika_keys)
    landratsaemter = len({gemeinde.ars[:5] for gemeinde in national.gemeinden})
    assert counts[RecordKind.ORGANISATIONSEINHEIT.value] == national.administrations + landratsaemter
    overview = national.model.ozg_overview("05", as_of=DAY)
    assert overview.online_whole + overview.online_part == len(overview.leistungen) > 150
