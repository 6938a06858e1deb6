"""Successors of ended Gemeinden inferred from areas; name folding for search."""

from hypothesis import given
from hypothesis import strategies as st

from services.catalogue.regions.names import name_key, name_plain
from services.catalogue.regions.succession import Parcel, best_subset, infer_successors, tolerance


def test_several_gemeinden_merged_into_a_new_one() -> None:
    ended = [Parcel("072325005089", 139), Parcel("072325005096", 636)]
    gained = [Parcel("072325005503", 774), Parcel("072325005001", 3)]
    found = infer_successors(ended, gained)
    assert {ars: s.successors for ars, s in found.items()} == {
        "072325005089": ("072325005503",),
        "072325005096": ("072325005503",),
    }
    assert {s.method for s in found.values()} == {"area-merge-kreis"}


def test_one_gemeinde_divided_among_neighbours_even_across_kreise() -> None:
    ended = [Parcel("093749451451", 588)]
    gained = [Parcel("093740129129", 401), Parcel("094720180180", 33), Parcel("094720184184", 155)]
    (succession,) = infer_successors(ended, gained).values()
    assert succession.successors == ("093740129129", "094720180180", "094720184184")
    assert succession.method == "area-split-land"


def test_the_most_cohesive_combination_wins_when_several_add_up() -> None:
    # 100 + 200 from one Verband, or 100 + 200 from two: the Gemeinden of one Verband merged.
    ended = [Parcel("010010001001", 100), Parcel("010010001002", 200), Parcel("010010002003", 200)]
    found = infer_successors(ended, [Parcel("010010003004", 300)])
    assert set(found) == {"010010001001", "010010001002"}
    # Equally cohesive: the fewest parcels first, so the second target takes the other two.
    ended = [Parcel("010010001001", 100), Parcel("010010001002", 200), Parcel("010010002003", 300)]
    found = infer_successors(ended, [Parcel("010010003004", 300), Parcel("010010003005", 300)])
    assert found["010010002003"].successors == ("010010003004",)
    assert found["010010001001"].successors == found["010010001002"].successors == ("010010003005",)


def test_unexplained_areas_give_no_successor() -> None:
    assert infer_successors([Parcel("010010001001", 1000)], [Parcel("010010001002", 500)]) == {}
    assert infer_successors([Parcel("010010001001", 0)], [Parcel("010010001002", 0)]) == {}


@given(st.lists(st.integers(1, 5000), min_size=1, max_size=12), st.data())
def test_a_subset_found_always_adds_up_within_the_tolerance(areas, data) -> None:
    parcels = [Parcel(f"0100100010{index:02d}", area) for index, area in enumerate(areas)]
    chosen = data.draw(st.lists(st.sampled_from(parcels), min_size=1, unique=True))
    target = sum(parcel.hectares for parcel in chosen)
    found = best_subset(parcels, target)
    assert found is not None
    assert abs(sum(parcel.hectares for parcel in found) - target) <= tolerance(target)


def test_names_fold_case_umlauts_sharp_s_and_diacritics() -> None:
    assert name_key("Göttingen") == "goettingen"
    assert name_plain("Göttingen") == "gottingen"
    assert name_key("Weißenstadt") == name_plain("WEISSENSTADT") == "weissenstadt"
    assert name_plain("Budyšin") == name_key("Budyšin") == "budysin"
    assert name_key("  Bad   Tölz ") == "bad toelz"
