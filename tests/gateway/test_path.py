"""Strict path normalisation: what is refused, what is accepted, and that an accepted path is
forwarded byte for byte — and a property: whatever a path decodes to, its route is the one its
segments say, so no path can reach another route's upstream."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.path import MAX_PATH_BYTES, InvalidPathError, check_query, parse_path
from gateway.route_table import RouteTable, RouteTableFile

REFUSED = [
    "/payment/../identity/x",
    "/payment/./x",
    "/payment/..",
    "/..",
    "/payment/%2e%2e/identity",
    "/payment/%2E%2e/identity",
    "/payment/.%2e/identity",
    "/payment/%2e/x",
    "/payment%2f..%2fidentity",
    "/payment%2F..",
    "/payment/%5c../identity",
    "/payment/%5C..%5Cidentity",
    "/payment/%252e%252e/identity",
    "/payment%252f..%252fidentity",
    "/payment/%255c",
    "/payment/..;/identity",
    "/payment/..%3b/identity",
    "//identity",
    "/payment//x",
    "/payment///",
    "/payment/%00",
    "/payment/%0a",
    "/payment/%7f",
    "/payment/%zz",
    "/payment/%2",
    "/payment/%",
    "/payment/%c3%28",  # not UTF-8
    "payment/x",
    "",
]
REFUSED_RAW = [
    b"/payment/\\..\\identity",
    b"/payment/\x00",
    b"/payment/\x1b[31m",
    b"/payment/\xc3\xa4",  # raw non-ASCII
    b"/payment/a b",
    b'/payment/"x"',
    b"/payment/<x>",
]
ACCEPTED = {
    "/payment": ("payment",),
    "/payment/": ("payment", ""),
    "/payment/x/": ("payment", "x", ""),
    "/catalogue/orte/M%C3%BCnchen": ("catalogue", "orte", "München"),
    "/catalogue/100%25": ("catalogue", "100%"),
    "/a/...": ("a", "..."),
    "/a/.hidden": ("a", ".hidden"),
    "/a/b;c=d": ("a", "b;c=d"),
    "/a/%41": ("a", "A"),
    "/": ("",),
}


@pytest.mark.parametrize("path", REFUSED)
def test_paths_that_could_mean_something_else_elsewhere_are_refused(path: str) -> None:
    with pytest.raises(InvalidPathError):
        parse_path(path.encode())


@pytest.mark.parametrize("raw", REFUSED_RAW)
def test_raw_bytes_outside_uri_path_characters_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidPathError):
        parse_path(raw)


@pytest.mark.parametrize(("path", "segments"), ACCEPTED.items())
def test_paths_in_normal_form_are_accepted_and_kept_raw(path: str, segments: tuple[str, ...]) -> None:
    parsed = parse_path(path.encode())
    assert parsed.raw == path
    assert parsed.segments == segments


def test_an_overlong_path_is_refused_as_too_long() -> None:
    with pytest.raises(InvalidPathError) as caught:
        parse_path(b"/" + b"a" * MAX_PATH_BYTES)
    assert caught.value.too_long


@pytest.mark.parametrize("query", [b"a=1 2", b"a=\r\nX: y", b"a=\xc3\xa4", b"a=\x00"])
def test_queries_with_spaces_control_characters_or_raw_non_ascii_are_refused(query: bytes) -> None:
    with pytest.raises(InvalidPathError):
        check_query(query)


def test_encoded_queries_pass() -> None:
    check_query(b"q=M%C3%BCnchen&limit=10&cursor=a%2Fb")
    check_query(b"")


_TABLE = RouteTable(
    RouteTableFile.model_validate(
        {
            "upstreams": {"payment": {"url": "http://p"}, "identity": {"url": "http://i"}},
            "routes": [
                {"prefix": "/payment", "upstream": "payment", "strip_prefix": True},
                {"prefix": "/identity", "upstream": "identity", "strip_prefix": True},
            ],
        }
    ),
    {"payment": "http://p", "identity": "http://i"},
    default_timeout=5,
)
_SEGMENT_TEXT = st.text(alphabet=st.sampled_from(list("aip./%25fFcC\\;:@~-_")), max_size=12)


@given(st.lists(_SEGMENT_TEXT, min_size=1, max_size=5))
def test_a_path_is_refused_or_reaches_exactly_the_route_its_first_segment_names(segments: list[str]) -> None:
    raw = ("/" + "/".join(segments)).encode()
    try:
        parsed = parse_path(raw)
    except InvalidPathError:
        return
    route = _TABLE.match(parsed)
    # Whatever is forwarded decodes to the very segments the route was chosen by: no dot segment
    # and no encoded separator survives to be resolved differently upstream.
    assert all(segment.split(";", 1)[0] not in (".", "..") for segment in parsed.segments)
    assert all("/" not in segment and "\\" not in segment for segment in parsed.segments)
    if route is None:
        assert parsed.segments[0] not in ("payment", "identity")
    else:
        assert parsed.segments[0] == route.prefix[1:]
        assert route.upstream_path(parsed) == "/" + "/".join(parsed.raw_segments[1:])


def test_routes_match_on_segment_boundaries_by_the_longest_prefix() -> None:
    table = RouteTable(
        RouteTableFile.model_validate(
            {
                "upstreams": {"a": {"url": "http://a"}, "b": {"url": "http://b"}},
                "routes": [
                    {"prefix": "/payment", "upstream": "a", "strip_prefix": True},
                    {"prefix": "/payment/status/live", "upstream": "b", "strip_prefix": "/payment"},
                    {"prefix": "/v1/submissions", "upstream": "b"},
                ],
            }
        ),
        {"a": "http://a", "b": "http://b"},
        default_timeout=5,
    )

    def match(path: str) -> tuple[str, str] | None:
        parsed = parse_path(path.encode())
        route = table.match(parsed)
        return None if route is None else (route.prefix, route.upstream_path(parsed))

    assert match("/payments") is None
    assert match("/payment") == ("/payment", "/")
    assert match("/payment/") == ("/payment", "/")
    assert match("/payment/x/y") == ("/payment", "/x/y")
    assert match("/payment/status") == ("/payment", "/status")
    assert match("/payment/status/live") == ("/payment/status/live", "/status/live")
    assert match("/payment/status/livex") == ("/payment", "/status/livex")
    assert match("/v1/submissions/42/attachments/7") == ("/v1/submissions", "/v1/submissions/42/attachments/7")
    assert match("/v1/submissionsX") is None
    assert match("/v1") is None
    assert match("/p%61yment/x") == ("/payment", "/x")  # decoded for matching, forwarded as sent
