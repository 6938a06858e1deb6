"""The URI rules of client registration, one by one."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.identity.clients.uris import check_outbound_uri, check_redirect_uri, is_internal_host, uri_host


@pytest.mark.parametrize(
    "uri",
    [
        "https://portal.example/callback",
        "https://portal.example:8443/cb?tenant=st",
        "http://localhost/cb",
        "http://localhost:8080/cb",
        "http://127.0.0.1:3000/cb",
        "http://[::1]:3000/cb",
        "https://[2001:db8::1]/cb",
    ],
)
def test_redirect_uris_that_may_be_registered(uri: str) -> None:
    assert check_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "http://portal.example/cb",
        "http://localhost.evil.example/cb",
        "http://127.0.0.2/cb",
        "https://portal.example/cb#",
        "https://portal.example/cb#state",
        "https://*.portal.example/cb",
        "https://portal.example/*",
        "https://user@portal.example/cb",
        "https:///cb",
        "//portal.example/cb",
        "portal.example/cb",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https://portal.example/ä",
        "https://portal.example/\n",
        "https://portal.example:0x50/cb",
        "",
    ],
)
def test_redirect_uris_that_may_not(uri: str) -> None:
    with pytest.raises(ValueError):
        check_redirect_uri(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "https://localhost/x",
        "https://app.localhost/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://172.16.0.1/x",
        "https://192.168.1.1/x",
        "https://169.254.169.254/x",
        "https://[::1]/x",
        "https://[fd00::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://0.0.0.0/x",
        "https://224.0.0.1/x",
        "https://printer.local/x",
        "https://svc.internal/x",
        "http://portal.example/x",
    ],
)
def test_outbound_uris_into_internal_networks_are_refused(uri: str) -> None:
    with pytest.raises(ValueError):
        check_outbound_uri(uri)


def test_a_public_https_uri_may_be_called() -> None:
    assert (
        check_outbound_uri("https://portal.example/backchannel-logout") == "https://portal.example/backchannel-logout"
    )
    assert not is_internal_host("93.184.216.34")


def test_hosts_are_compared_without_port_and_case() -> None:
    assert uri_host("https://Portal.Example:8443/cb") == "portal.example"
    assert uri_host("http://[::1]:8080/cb") == "[::1]"


@given(st.text(max_size=200))
def test_no_text_makes_the_checks_fail_otherwise_than_with_value_error(text: str) -> None:
    for check in (check_redirect_uri, check_outbound_uri):
        with contextlib.suppress(ValueError):
            check(text)
