"""Fixtures of the auth tests: a stand-in issuer and a verifier trusting it, on a fake clock."""

from collections.abc import AsyncIterator

import pytest

from kit.auth.testing import TokenFactory
from kit.auth.tokens import TokenVerifier
from tests.kit.auth.fakes import AUDIENCE, ISSUER, MAX_AGE, MIN_REFRESH_INTERVAL, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens() -> TokenFactory:
    return TokenFactory(issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
async def verifier(tokens: TokenFactory, clock: FakeClock) -> AsyncIterator[TokenVerifier]:
    jwks = tokens.jwks_cache(clock=clock, min_refresh_interval=MIN_REFRESH_INTERVAL, max_age=MAX_AGE)
    verifier = TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE)
    yield verifier
    await verifier.aclose()
