"""Resolving Zuständigkeiten: precedence up the ARS chain, key over type, validity, roles, targets."""

import dataclasses
import datetime as dt

import pytest

from contracts.catalogue import RecordKind
from services.catalogue.resolution import TIE_BREAK, CatalogueReadModel, Resolution
from tests.services.catalogue.resolution.factory import (
    AMT,
    DAY,
    ELMSHORN,
    HAMBURG,
    HUND,
    KREIS,
    LAND,
    NEBEL,
    OTHER_KREIS,
    PASS,
    WYK,
    leistung,
    od,
    oe,
    rule,
)


def model_with(*records) -> CatalogueReadModel:
    model = CatalogueReadModel()
    for record in records:
        assert model.put(record)
    return model


def authority_key(resolution: Resolution | None) -> str | None:
    assert resolution is not None and resolution.zustaendige_stelle is not None
    found = resolution.zustaendige_stelle.organisationseinheit
    assert found is not None
    return found.record.key if found.record else None


def test_the_lowest_region_wins_gemeinde_over_kreis_over_land_over_bund() -> None:
    model = model_with(
        leistung(),
        *(oe("t", name) for name in ("bund", "land", "kreis", "wyk")),
        rule("t", "r-bund", "0", leika_key=PASS, oe_key="bund"),
        rule("t", "r-land", LAND, leika_key=PASS, oe_key="land"),
        rule("t", "r-kreis", KREIS, leika_key=PASS, oe_key="kreis"),
        rule("t", "r-wyk", WYK, leika_key=PASS, oe_key="wyk"),
    )
    assert authority_key(model.resolve(PASS, WYK, as_of=DAY)) == "wyk"
    assert authority_key(model.resolve(PASS, NEBEL, as_of=DAY)) == "kreis"
    assert authority_key(model.resolve(PASS, ELMSHORN, as_of=DAY)) == "land"
    assert authority_key(model.resolve(PASS, HAMBURG, as_of=DAY)) == "bund"
    assert authority_key(model.resolve(PASS, OTHER_KREIS, as_of=DAY)) == "land"
    assert authority_key(model.resolve(PASS, "0", as_of=DAY)) == "bund"


def test_the_deciding_rule_says_where_it_was_set_and_whether_it_was_inherited() -> None:
    model = model_with(leistung(), oe("t", "kreis"), rule("t", "r-kreis", KREIS, leika_key=PASS, oe_key="kreis"))
    resolution = model.resolve(PASS, WYK, as_of=DAY)
    assert resolution is not None and resolution.zustaendige_stelle is not None
    found = resolution.zustaendige_stelle.organisationseinheit
    assert found is not None and found.record is not None
    decided = found.rule
    assert (decided.key, decided.tenant, decided.ars, decided.level) == ("r-kreis", "t", KREIS, "kreis")
    assert decided.matched_by == "leika_key"
    assert decided.inherited_from == KREIS
    assert decided.outranked == () and decided.tie_break is None
    assert "inherited from 01054" in decided.describe()
    assert found.record.content.name == {"de": "Behörde kreis"}

    at_kreis = model.resolve(PASS, KREIS, as_of=DAY)
    assert at_kreis is not None and at_kreis.zustaendige_stelle is not None
    assert at_kreis.zustaendige_stelle.organisationseinheit is not None
    assert at_kreis.zustaendige_stelle.organisationseinheit.rule.inherited_from is None


def test_at_one_level_a_key_rule_beats_a_type_rule_but_a_lower_type_rule_beats_a_higher_key_rule() -> None:
    model = model_with(
        leistung(PASS, "2/3"),
        leistung(HUND, "2/3"),
        *(oe("t", name) for name in ("typ-land", "key-land", "typ-kreis")),
        rule("t", "typ-land", LAND, typen=["2/3"], oe_key="typ-land"),
        rule("t", "key-land", LAND, leika_key=PASS, oe_key="key-land"),
        rule("t", "typ-kreis", KREIS, typen=["2/3", "5"], oe_key="typ-kreis"),
    )
    assert authority_key(model.resolve(PASS, ELMSHORN, as_of=DAY)) == "key-land"
    assert authority_key(model.resolve(HUND, ELMSHORN, as_of=DAY)) == "typ-land"
    assert authority_key(model.resolve(PASS, WYK, as_of=DAY)) == "typ-kreis"
    resolution = model.resolve(PASS, WYK, as_of=DAY)
    assert resolution is not None and resolution.zustaendige_stelle is not None
    assert resolution.zustaendige_stelle.organisationseinheit is not None
    assert resolution.zustaendige_stelle.organisationseinheit.rule.matched_by == "leika_typ"


def test_types_match_in_canonical_form() -> None:
    model = model_with(leistung(PASS, "2/3,1"), oe("t", "a"), rule("t", "r", LAND, typen=["1,  2/3"], oe_key="a"))
    assert authority_key(model.resolve(PASS, WYK, as_of=DAY)) == "a"
    assert model.resolve(PASS, WYK, as_of=DAY, rolle="ansprechpunkt") is None


def test_validity_and_as_of_queries() -> None:
    model = model_with(
        leistung(),
        oe("t", "kreis"),
        oe("t", "wyk-alt"),
        oe("t", "wyk-neu"),
        rule("t", "r-kreis", KREIS, leika_key=PASS, oe_key="kreis", ab=dt.date(2020, 1, 1)),
        rule("t", "r-alt", WYK, leika_key=PASS, oe_key="wyk-alt", bis=dt.date(2024, 12, 31)),
        rule("t", "r-neu", WYK, leika_key=PASS, oe_key="wyk-neu", ab=dt.date(2025, 7, 1)),
    )
    assert authority_key(model.resolve(PASS, WYK, as_of=dt.date(2024, 12, 31))) == "wyk-alt"
    assert authority_key(model.resolve(PASS, WYK, as_of=dt.date(2025, 1, 1))) == "kreis"
    assert authority_key(model.resolve(PASS, WYK, as_of=dt.date(2025, 7, 1))) == "wyk-neu"
    assert model.resolve(PASS, NEBEL, as_of=dt.date(2019, 12, 31)) is None


def test_zustaendige_stelle_and_ansprechpunkt_come_from_different_rules() -> None:
    model = model_with(
        leistung(),
        oe("t", "amt"),
        oe("t", "buergerbuero"),
        rule("t", "zs", KREIS, leika_key=PASS, oe_key="amt"),
        rule("t", "ap", WYK, leika_key=PASS, oe_key="buergerbuero", rolle="ansprechpunkt"),
    )
    resolution = model.resolve(PASS, WYK, as_of=DAY)
    assert resolution is not None
    assert resolution.zustaendige_stelle is not None and resolution.ansprechpunkt is not None
    stelle = resolution.zustaendige_stelle.organisationseinheit
    punkt = resolution.ansprechpunkt.organisationseinheit
    assert stelle is not None and stelle.record is not None and stelle.rule.key == "zs"
    assert punkt is not None and punkt.record is not None and punkt.rule.key == "ap"
    assert stelle.record.key == "amt" and punkt.record.key == "buergerbuero"

    only = model.resolve(PASS, WYK, as_of=DAY, rolle="ansprechpunkt")
    assert only is not None and only.zustaendige_stelle is None and only.ansprechpunkt is not None
    assert only.role("ansprechpunkt") is only.ansprechpunkt
    elsewhere = model.resolve(PASS, NEBEL, as_of=DAY)
    assert elsewhere is not None and elsewhere.ansprechpunkt is None


def test_authority_and_online_service_are_decided_by_the_lowest_rule_naming_each() -> None:
    model = model_with(
        leistung(),
        oe("t", "land-amt"),
        oe("t", "wyk"),
        od("t", "portal", [PASS]),
        rule("t", "land", LAND, leika_key=PASS, oe_key="land-amt", od_key="portal"),
        rule("t", "wyk", WYK, leika_key=PASS, oe_key="wyk"),
    )
    resolution = model.resolve(PASS, WYK, as_of=DAY)
    assert resolution is not None and resolution.zustaendige_stelle is not None
    assert authority_key(resolution) == "wyk"
    online = resolution.zustaendige_stelle.onlinedienst
    assert online is not None and online.record is not None
    assert online.record.key == "portal" and online.rule.key == "land" and online.rule.inherited_from == LAND
    assert [service.record.key for service in model.online_services(PASS, WYK, as_of=DAY) if service.record] == [
        "portal"
    ]


def test_an_online_service_not_offering_the_leistung_leaves_the_decision_to_the_rules_above() -> None:
    model = model_with(
        leistung(PASS),
        leistung(HUND),
        od("t", "bund-portal", [PASS, HUND]),
        od("t", "hunde", [HUND]),
        rule("t", "bund", "0", typen=["2/3"], od_key="bund-portal"),
        rule("t", "kreis", KREIS, typen=["2/3"], od_key="hunde"),
    )
    pass_online = model.online_services(PASS, WYK, as_of=DAY)
    hund_online = model.online_services(HUND, WYK, as_of=DAY)
    assert [service.record.key for service in pass_online if service.record] == ["bund-portal"]
    assert [service.record.key for service in hund_online if service.record] == ["hunde"]


def test_a_rule_whose_target_is_not_published_decides_and_says_why() -> None:
    model = model_with(
        leistung(),
        oe("t", "land"),
        od("t", "portal", [PASS]),
        rule("t", "land", LAND, leika_key=PASS, oe_key="land", od_key="portal"),
        rule("t", "kreis", KREIS, leika_key=PASS, oe_key="geschlossen", od_key="abgeschaltet"),
    )
    resolution = model.resolve(PASS, WYK, as_of=DAY)
    assert resolution is not None and resolution.zustaendige_stelle is not None
    authority = resolution.zustaendige_stelle.organisationseinheit
    online = resolution.zustaendige_stelle.onlinedienst
    assert authority is not None and authority.record is None and authority.rule.key == "kreis"
    assert authority.reason == "Organisationseinheit 'geschlossen' of tenant 't' is not published"
    assert online is not None and online.record is None
    assert online.reason == "Onlinedienst 'abgeschaltet' of tenant 't' is not published"
    assert model.online_services(PASS, WYK, as_of=DAY) == []


def test_gemeindeverwaltung_finds_the_asked_gemeindes_administration() -> None:
    model = model_with(
        leistung(),
        oe("gemeinden", "gv-wyk", verwaltung_von=WYK),
        oe("gemeinden", "gv-elmshorn", verwaltung_von=ELMSHORN),
        rule("bund", "national", "0", typen=["2/3"], ziel="gemeindeverwaltung"),
    )
    for ars, key in ((WYK, "gv-wyk"), (ELMSHORN, "gv-elmshorn")):
        resolution = model.resolve(PASS, ars, as_of=DAY)
        assert authority_key(resolution) == key
        assert resolution is not None and resolution.zustaendige_stelle is not None
        found = resolution.zustaendige_stelle.organisationseinheit
        assert found is not None and found.administration_of == ars and found.rule.inherited_from == "0"


def test_gemeindeverwaltung_falls_back_to_the_gemeindeverband_and_else_says_why() -> None:
    model = model_with(
        leistung(),
        oe("gemeinden", "amt-foehr-amrum", verwaltung_von=AMT),
        oe("gemeinden", "gv-wyk", verwaltung_von=WYK),
        rule("bund", "national", "0", typen=["2/3"], ziel="gemeindeverwaltung"),
    )
    assert authority_key(model.resolve(PASS, WYK, as_of=DAY)) == "gv-wyk"
    nebel = model.resolve(PASS, NEBEL, as_of=DAY)
    assert authority_key(nebel) == "amt-foehr-amrum"
    assert nebel is not None and nebel.zustaendige_stelle is not None
    assert nebel.zustaendige_stelle.organisationseinheit is not None
    assert nebel.zustaendige_stelle.organisationseinheit.administration_of == AMT

    elmshorn = model.resolve(PASS, ELMSHORN, as_of=DAY)
    assert elmshorn is not None and elmshorn.zustaendige_stelle is not None
    none_found = elmshorn.zustaendige_stelle.organisationseinheit
    assert none_found is not None and none_found.record is None
    assert none_found.reason is not None and ELMSHORN in none_found.reason and "010560015" in none_found.reason

    kreis = model.resolve(PASS, KREIS, as_of=DAY)
    assert kreis is not None and kreis.zustaendige_stelle is not None
    at_kreis = kreis.zustaendige_stelle.organisationseinheit
    assert at_kreis is not None and at_kreis.record is None
    assert at_kreis.reason is not None and "not a kreis" in at_kreis.reason


def test_gemeindeverwaltung_prefers_the_rules_tenant_then_the_most_recent() -> None:
    model = model_with(
        leistung(),
        oe("a", "gv-alt", verwaltung_von=WYK, minute=1),
        oe("b", "gv-neu", verwaltung_von=WYK, minute=2),
        rule("a", "rule-a", KREIS, leika_key=PASS, ziel="gemeindeverwaltung"),
        rule("c", "rule-c", NEBEL, leika_key=PASS, ziel="gemeindeverwaltung"),
    )
    assert authority_key(model.resolve(PASS, WYK, as_of=DAY)) == "gv-alt"
    model.put(rule("c", "rule-c2", WYK, leika_key=PASS, ziel="gemeindeverwaltung"))
    assert authority_key(model.resolve(PASS, WYK, as_of=DAY)) == "gv-neu"


def test_a_tie_between_tenants_goes_to_the_most_recently_published_and_is_reported() -> None:
    older = rule("nord", "r", KREIS, leika_key=PASS, oe_key="x", minute=1)
    newer = rule("sued", "r", KREIS, leika_key=PASS, oe_key="y", minute=2)
    model = model_with(leistung(), oe("nord", "x"), oe("sued", "y"), older, newer)
    resolution = model.resolve(PASS, WYK, as_of=DAY)
    assert authority_key(resolution) == "y"
    assert resolution is not None and resolution.zustaendige_stelle is not None
    found = resolution.zustaendige_stelle.organisationseinheit
    assert found is not None
    assert found.rule.tenant == "sued" and found.rule.outranked == (older.record_id,)
    assert found.rule.tie_break == TIE_BREAK and TIE_BREAK in found.rule.describe()
    # Published at the same moment: the greater record id wins, the same way on every replica.
    same_time = dataclasses.replace(older, published_at=newer.published_at)
    model.put(same_time)
    winner = max((same_time, newer), key=lambda record: record.record_id.int)
    assert authority_key(model.resolve(PASS, WYK, as_of=DAY)) == ("x" if winner is same_time else "y")


def test_removal_and_re_put() -> None:
    kreis_rule = rule("t", "r-kreis", KREIS, leika_key=PASS, oe_key="kreis")
    wyk_rule = rule("t", "r-wyk", WYK, leika_key=PASS, oe_key="wyk")
    wyk_oe = oe("t", "wyk")
    model = model_with(leistung(), oe("t", "kreis"), wyk_oe, kreis_rule, wyk_rule)
    assert authority_key(model.resolve(PASS, WYK, as_of=DAY)) == "wyk"

    assert model.remove(RecordKind.ZUSTAENDIGKEIT, wyk_rule.record_id)
    assert not model.remove(RecordKind.ZUSTAENDIGKEIT, wyk_rule.record_id)
    assert authority_key(model.resolve(PASS, WYK, as_of=DAY)) == "kreis"
    assert model.put(wyk_rule)
    assert authority_key(model.resolve(PASS, WYK, as_of=DAY)) == "wyk"

    assert not model.remove(RecordKind.LEISTUNG, wyk_oe.record_id)  # wrong kind
    assert model.remove(RecordKind.ORGANISATIONSEINHEIT, wyk_oe.record_id)
    resolution = model.resolve(PASS, WYK, as_of=DAY)
    assert resolution is not None and resolution.zustaendige_stelle is not None
    assert resolution.zustaendige_stelle.organisationseinheit is not None
    assert resolution.zustaendige_stelle.organisationseinheit.reason is not None
    model.put(wyk_oe)
    assert authority_key(model.resolve(PASS, WYK, as_of=DAY)) == "wyk"

    assert model.remove(RecordKind.ZUSTAENDIGKEIT, kreis_rule.record_id)
    assert model.remove(RecordKind.ZUSTAENDIGKEIT, wyk_rule.record_id)
    assert model.resolve(PASS, WYK, as_of=DAY) is None
    assert model.rules_at(KREIS) is None and model.regions_with_rules() == ()


def test_a_new_version_replaces_the_old_and_an_older_one_is_ignored() -> None:
    first = rule("t", "r", KREIS, leika_key=PASS, oe_key="a")
    moved = dataclasses.replace(
        rule("t", "r", OTHER_KREIS, leika_key=PASS, oe_key="b"), record_id=first.record_id, version=2
    )
    model = model_with(leistung(), oe("t", "a"), oe("t", "b"), first)
    assert model.put(moved)
    assert model.resolve(PASS, WYK, as_of=DAY) is None
    assert authority_key(model.resolve(PASS, ELMSHORN, as_of=DAY)) == "b"
    assert not model.put(first)  # version 1 arriving late
    assert authority_key(model.resolve(PASS, ELMSHORN, as_of=DAY)) == "b"
    assert model.counts()["zustaendigkeit"] == 1


def test_a_changed_leika_type_changes_which_type_rules_match() -> None:
    typed = leistung(PASS, "1")
    model = model_with(typed, oe("t", "a"), rule("t", "r", LAND, typen=["2/3"], oe_key="a"))
    assert model.resolve(PASS, WYK, as_of=DAY) is None
    retyped = dataclasses.replace(leistung(PASS, "2/3"), record_id=typed.record_id, version=2)
    model.put(retyped)
    assert authority_key(model.resolve(PASS, WYK, as_of=DAY)) == "a"
    model.remove(RecordKind.LEISTUNG, typed.record_id)
    assert model.resolve(PASS, WYK, as_of=DAY) is None


def test_key_rules_answer_for_a_leistung_that_is_not_published() -> None:
    model = model_with(oe("t", "a"), rule("t", "r", LAND, leika_key=PASS, oe_key="a"))
    resolution = model.resolve(PASS, WYK, as_of=DAY)
    assert resolution is not None and resolution.leistung is None
    assert authority_key(resolution) == "a"


def test_bad_questions_and_records_are_refused() -> None:
    model = model_with(leistung())
    with pytest.raises(ValueError):
        model.resolve(PASS, "0105", as_of=DAY)
    with pytest.raises(ValueError):
        model.resolve(PASS, WYK, as_of=DAY, rolle="chef")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        model.put(dataclasses.replace(leistung(), kind=RecordKind.GEBUEHR))
    with pytest.raises(ValueError):
        dataclasses.replace(leistung(), published_at=dt.datetime(2025, 1, 1))  # naive: replicas could disagree


def test_organisationseinheiten_are_held_compacted_but_equal() -> None:
    first, second = oe("t", "a"), oe("t", "b")
    model = model_with(first, second)
    held_first, held_second = model.get(first.record_id), model.get(second.record_id)
    assert held_first is not None and held_second is not None
    assert held_first.content == first.content
    assert held_first.content.model_dump(exclude_unset=True) == first.content.model_dump(exclude_unset=True)
    assert held_first.content.kontakt is held_second.content.kontakt
