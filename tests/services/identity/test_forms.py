"""OAuth form bodies: absent when empty, one value per parameter, UTF-8, bounded."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.identity.oauth.errors import OAuthError
from services.identity.oauth.forms import parse_form


def test_values_are_decoded_and_blank_parameters_count_as_absent() -> None:
    form = parse_form(b"grant_type=client_credentials&scope=a+b%3Ac&client_id=")
    assert form.get("grant_type") == "client_credentials"
    assert form.get("scope") == "a b:c"
    assert form.get("client_id") is None
    assert "client_id" not in form


def test_repeatable_parameters_keep_every_value() -> None:
    form = parse_form(b"resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb", repeatable={"resource"})
    assert form.get_all("resource") == ["https://a", "https://b"]


@pytest.mark.parametrize(
    ("body", "description"),
    [
        (b"scope=a&scope=b", "scope appears more than once"),
        (b"%22x%22=1&%22x%22=2", "a parameter appears more than once"),  # never echo a name with quotes
        (b"scope=%C3", "not valid form encoding"),
        (b"\xff=1", "not valid form encoding"),
    ],
)
def test_malformed_bodies_are_invalid_request(body: bytes, description: str) -> None:
    with pytest.raises(OAuthError) as raised:
        parse_form(body)
    assert raised.value.error == "invalid_request"
    assert description in raised.value.description


def test_error_descriptions_are_restricted_to_the_rfc_6749_characters() -> None:
    with pytest.raises(ValueError):
        OAuthError("invalid_request", 'a "quoted" word')


@given(st.binary(max_size=300))
def test_any_body_is_either_a_form_or_invalid_request(body: bytes) -> None:
    with contextlib.suppress(OAuthError):
        parse_form(body)
        return
    with pytest.raises(OAuthError) as raised:
        parse_form(body)
    assert raised.value.error == "invalid_request"
