"""The OZG overview: which Leistungen are online in all or part of a region, by Themenfeld."""

import datetime as dt

from services.catalogue.resolution import CatalogueReadModel, OzgOverview
from tests.services.catalogue.resolution.factory import (
    AMT,
    DAY,
    ELMSHORN,
    HUND,
    KREIS,
    LAND,
    NEBEL,
    OTHER_KREIS,
    PASS,
    WYK,
    leistung,
    od,
    rule,
)

MELDE = "99115001000000"
WAHL = "99128020060000"


def model_with(*records) -> CatalogueReadModel:
    model = CatalogueReadModel()
    for record in records:
        model.put(record)
    return model


def coverage(overview: OzgOverview) -> dict[str, str]:
    return {entry.leistung.key: entry.coverage for entry in overview.leistungen}


def catalogue() -> CatalogueReadModel:
    return model_with(
        leistung(PASS, "2/3", themenfeld="Ein- & Auswanderung"),
        leistung(HUND, "2/3", themenfeld="Steuern & Zoll"),
        leistung(MELDE, "2/3", themenfeld="Ein- & Auswanderung"),
        leistung(WAHL, "4", themenfeld="Engagement & Hobby"),
        # The Land's portal offers passports and dog tax, for all 2/3 Leistungen it offers.
        od("sh", "portal", [PASS, HUND]),
        rule("sh", "portal", LAND, typen=["2/3"], od_key="portal"),
        # Nordfriesland has its own dog-tax service, which Wyk switched off.
        od("nf", "hunde", [HUND]),
        rule("nf", "hunde", KREIS, leika_key=HUND, od_key="hunde"),
        rule("wyk", "hunde-aus", WYK, leika_key=HUND, od_key="abgeschaltet"),
        # Only Elmshorn offers the Meldebescheinigung online.
        od("elmshorn", "melde", [MELDE]),
        rule("elmshorn", "melde", ELMSHORN, leika_key=MELDE, od_key="melde"),
    )


def test_the_overview_of_a_land_tells_whole_from_part() -> None:
    overview = catalogue().ozg_overview(LAND, as_of=DAY)
    assert coverage(overview) == {PASS: "whole", HUND: "part", MELDE: "part"}
    assert (overview.leistungen_total, overview.online_whole, overview.online_part) == (4, 1, 2)
    by_key = {entry.leistung.key: entry for entry in overview.leistungen}
    assert [service.key for service in by_key[PASS].onlinedienste] == ["portal"]
    assert by_key[HUND].online_in == (KREIS,) and by_key[HUND].offline_in == (WYK,)
    assert by_key[MELDE].onlinedienste == () and by_key[MELDE].online_in == (ELMSHORN,)


def test_the_overview_of_a_kreis_and_of_a_gemeinde() -> None:
    model = catalogue()
    assert coverage(model.ozg_overview(KREIS, as_of=DAY)) == {PASS: "whole", HUND: "part"}
    assert coverage(model.ozg_overview(OTHER_KREIS, as_of=DAY)) == {PASS: "whole", HUND: "whole", MELDE: "part"}
    assert coverage(model.ozg_overview(WYK, as_of=DAY)) == {PASS: "whole"}
    assert coverage(model.ozg_overview(NEBEL, as_of=DAY)) == {PASS: "whole", HUND: "whole"}
    assert coverage(model.ozg_overview(ELMSHORN, as_of=DAY)) == {PASS: "whole", HUND: "whole", MELDE: "whole"}
    hamburg = model.ozg_overview("02", as_of=DAY)
    assert coverage(hamburg) == {} and hamburg.leistungen_total == 4


def test_the_overview_by_themenfeld() -> None:
    overview = catalogue().ozg_overview(LAND, as_of=DAY, themenfeld="Ein- & Auswanderung")
    assert coverage(overview) == {PASS: "whole", MELDE: "part"}
    assert overview.leistungen_total == 2 and overview.themenfeld == "Ein- & Auswanderung"


def test_the_overview_of_germany_and_on_another_day() -> None:
    model = catalogue()
    assert coverage(model.ozg_overview("0", as_of=DAY)) == {PASS: "part", HUND: "part", MELDE: "part"}
    model.put(rule("sh", "portal-end", LAND, leika_key=PASS, od_key="portal", bis=dt.date(2025, 1, 1)))
    model.put(rule("bund", "bund", "0", leika_key=WAHL, od_key="x", ab=dt.date(2030, 1, 1)))
    assert coverage(model.ozg_overview(LAND, as_of=DAY)) == {PASS: "whole", HUND: "part", MELDE: "part"}


def test_regions_that_tile_the_asked_one_make_it_whole_when_the_register_says_so() -> None:
    """Every Gemeinde of the Amt has its own service: only the register knows there are no others."""
    model = model_with(
        leistung(PASS, "2/3"),
        od("wyk", "wyk", [PASS]),
        od("nebel", "nebel", [PASS]),
        rule("wyk", "wyk", WYK, leika_key=PASS, od_key="wyk"),
        rule("nebel", "nebel", NEBEL, leika_key=PASS, od_key="nebel"),
    )
    register = {AMT: [WYK, NEBEL], KREIS: [AMT, "010545494"], "010545494": ["010545494001"]}

    def children(ars: str) -> list[str]:
        return register.get(ars, [])

    assert coverage(model.ozg_overview(AMT, as_of=DAY)) == {PASS: "part"}
    assert coverage(model.ozg_overview(AMT, as_of=DAY, children=children)) == {PASS: "whole"}
    assert coverage(model.ozg_overview(KREIS, as_of=DAY, children=children)) == {PASS: "part"}
