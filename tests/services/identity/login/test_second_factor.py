"""TOTP as a second factor: setup confirmed by a code, login in two steps, codes used once, and the level
of the session limited by how well the person's identity is proven."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import httpx
import pyotp
import pytest

from tests.services.identity.oidc.flow import Browser, hidden_fields, new_person
from tests.services.identity.support import ISSUER


@pytest.fixture
async def browser(app, client) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        yield Browser(http)


async def _set_up(browser: Browser, email: str) -> pyotp.TOTP:
    assert (await browser.login("/anmelden", email)).status_code == 303
    page = await browser.http.get("/konto/zweiter-faktor")
    wrong = await browser.http.post("/konto/zweiter-faktor", data={**hidden_fields(page.text), "code": "000000"})
    assert wrong.status_code == 422
    page = await browser.http.get("/konto/zweiter-faktor")
    secret = re.search(r"<code>([A-Z2-7]{16,})</code>", page.text).group(1)
    totp = pyotp.TOTP(secret)
    done = await browser.http.post("/konto/zweiter-faktor", data={**hidden_fields(page.text), "code": totp.now()})
    assert done.status_code == 200 and "eingerichtet" in done.text
    return totp


async def test_login_takes_password_and_a_code_once(app, browser) -> None:
    await new_person(app, "totp@example.org")
    totp = await _set_up(browser, "totp@example.org")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        other = Browser(http)
        first = await other.login("/anmelden", "totp@example.org")
        assert first.status_code == 303 and "/anmelden/zweiter-faktor" in first.headers["location"]
        # No session before the second factor.
        assert (await http.get("/konto")).status_code == 303
        page = await http.get(first.headers["location"].removeprefix(ISSUER))
        # The current step's code confirmed the setup; the next one (drift tolerance) is still unused.
        code = totp.at(time.time() + 30)
        done = await http.post("/anmelden/zweiter-faktor", data={**hidden_fields(page.text), "code": code})
        assert done.status_code == 303 and done.headers["location"] == ISSUER + "/konto"
        account_page = await http.get("/konto")
        assert account_page.status_code == 200
        # Password and TOTP on an account whose identity nobody proved: still niedrig.
        assert "Vertrauensniveau dieser Anmeldung</th><td>niedrig" in account_page.text
        export = (await http.get("/konto/export")).json()
        assert any(s["amr"] == ["pwd", "otp", "mfa"] for s in export["loginSessions"])
    # The same code a second time is refused (a code works once).
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        again = await Browser(http).login("/anmelden", "totp@example.org")
        page = await http.get(again.headers["location"].removeprefix(ISSUER))
        replay = await http.post("/anmelden/zweiter-faktor", data={**hidden_fields(page.text), "code": code})
        assert replay.status_code == 401


async def test_the_second_step_needs_the_first(app, browser) -> None:
    page = await browser.http.get("/anmelden/zweiter-faktor")
    answer = await browser.http.post("/anmelden/zweiter-faktor", data={**hidden_fields(page.text), "code": "123456"})
    assert answer.status_code == 303 and answer.headers["location"] == ISSUER + "/anmelden"
