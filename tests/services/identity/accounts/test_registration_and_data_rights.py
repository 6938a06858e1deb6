"""Registration with a verification e-mail over real SMTP, password reset, throttling, the account page,
the data export and deletion."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from services.identity.accounts.models import Account
from services.identity.audit import AuditEvent
from services.identity.login.devices import device_token
from services.identity.login.models import LoginSessionRow
from services.identity.throttle import MAX_DELAY, delay_after
from tests.services.identity.accounts.support import LINK, events_of, post_form, register_and_verify
from tests.services.identity.oidc.flow import PASSWORD, Browser, local
from tests.services.identity.support import ISSUER, identity_of


@pytest.fixture
async def browser(app, client) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        yield Browser(http)


async def test_registration_sends_a_link_that_verifies_the_address_once(app, browser, inbox):
    await register_and_verify(app, browser, inbox, "neu@example.org")
    async with identity_of(app).database.session() as session:
        account = (await session.scalars(select(Account).where(Account.email == "neu@example.org"))).one()
    assert account.email_verified_at is not None
    assert account.password_hash.startswith("$argon2id$")
    created = await events_of(app, "de.basisdienste.identity.account.created.v1")
    verified = await events_of(app, "de.basisdienste.identity.account.verified.v1")
    assert str(account.id) in [event["account_id"] for event in created]
    assert [event["account_id"] for event in verified].count(str(account.id)) == 1


async def test_registering_a_taken_address_reveals_nothing_and_mails_the_owner(app, browser, inbox):
    await register_and_verify(app, browser, inbox, "vergeben@example.org")
    again = await post_form(
        browser, "/registrieren", "/registrieren", email="Vergeben@example.org", password=PASSWORD, password2=PASSWORD
    )
    assert again.status_code == 200 and "Fast geschafft" in again.text
    notice = await inbox.next_to("vergeben@example.org")
    assert "bereits" in notice.get_payload(decode=True).decode()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "keine-adresse", "password": PASSWORD, "password2": PASSWORD}, "gültige E-Mail-Adresse"),
        ({"email": "kurz@example.org", "password": "kurz", "password2": "kurz"}, "mindestens 10 Zeichen"),
        ({"email": "a@example.org", "password": PASSWORD, "password2": PASSWORD + "x"}, "stimmen nicht"),
        ({"email": "a@example.org", "password": "a@example.org", "password2": "a@example.org"}, "nicht Ihre E-Mail"),
    ],
)
async def test_bad_registrations_change_nothing(app, browser, fields, message):
    async with identity_of(app).database.session() as session:
        before = await session.scalar(select(func.count()).select_from(Account))
    answer = await post_form(browser, "/registrieren", "/registrieren", **fields)
    assert answer.status_code == 422 and message in answer.text
    async with identity_of(app).database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Account)) == before


async def test_a_form_without_its_csrf_token_is_refused(app, browser):
    answer = await browser.http.post("/registrieren", data={"email": "x@example.org", "password": PASSWORD})
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_password_reset_sets_a_new_password_and_ends_sessions(app, browser, inbox):
    await register_and_verify(app, browser, inbox, "reset@example.org")
    assert (await browser.login("/anmelden", "reset@example.org")).status_code == 303
    unknown = await post_form(browser, "/passwort-vergessen", "/passwort-vergessen", email="niemand@example.org")
    known = await post_form(browser, "/passwort-vergessen", "/passwort-vergessen", email="reset@example.org")
    assert unknown.text == known.text  # the answer does not reveal who has an account
    link = LINK.search((await inbox.next_to("reset@example.org")).get_payload(decode=True).decode())
    page = local(link.group(1))
    new_password = "ein anderes langes Passwort"
    answer = await post_form(browser, page, "/passwort-zuruecksetzen", password=new_password)
    assert answer.status_code == 200 and "Passwort geändert" in answer.text
    assert (await post_form(browser, page, "/passwort-zuruecksetzen", password=new_password)).status_code == 400
    async with identity_of(app).database.session() as session:
        live = await session.scalar(
            select(func.count())
            .select_from(LoginSessionRow)
            .join(Account, Account.id == LoginSessionRow.account_id)
            .where(Account.email == "reset@example.org", LoginSessionRow.ended_at.is_(None))
        )
    assert live == 0
    assert (await browser.login("/anmelden", "reset@example.org", new_password)).status_code == 303


async def test_wrong_passwords_are_slowed_down(app, browser, inbox):
    await register_and_verify(app, browser, inbox, "ziel@example.org")
    # From an address of its own, so the per-IP delay does not reach the other tests.
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
        attacker = Browser(http)
        answers = [await attacker.login("/anmelden", "ziel@example.org", "falsches Passwort!") for _ in range(6)]
        assert [answer.status_code for answer in answers[:5]] == [401] * 5
        assert answers[5].status_code == 429 and "Bitte warten Sie" in answers[5].text
        # The right password waits too while the delay runs: guessing gains nothing from it.
        assert (await attacker.login("/anmelden", "ziel@example.org")).status_code == 429
    # A browser from another address waits for the account's delay too ...
    other_transport = httpx.ASGITransport(app=app, client=("198.51.100.2", 40000))
    async with httpx.AsyncClient(transport=other_transport, base_url=ISSUER) as http:
        assert (await Browser(http).login("/anmelden", "ziel@example.org")).status_code == 429
    # ... but not the owner's, which logged in before: its device cookie exempts it.
    owner_transport = httpx.ASGITransport(app=app, client=("198.51.100.1", 40000))
    async with httpx.AsyncClient(transport=owner_transport, base_url=ISSUER) as http:
        owner = Browser(http)
        account_id = await _account_id(app, "ziel@example.org")
        owner.http.cookies.set("bd_device", device_token(identity_of(app), account_id))
        assert (await owner.login("/anmelden", "ziel@example.org")).status_code == 303


async def _account_id(app, email: str) -> uuid.UUID:
    async with identity_of(app).database.session() as session:
        return (await session.scalars(select(Account.id).where(Account.email == email))).one()


def test_delays_grow_and_are_capped() -> None:
    assert [delay_after(n) for n in range(5)] == [0.0] * 5
    assert [delay_after(n) for n in (5, 6, 7)] == [1.0, 2.0, 4.0]
    assert delay_after(100) == MAX_DELAY == 900.0


async def test_the_account_page_export_and_deletion(app, browser, inbox):
    await register_and_verify(app, browser, inbox, "weg@example.org")
    await browser.login("/anmelden", "weg@example.org")
    page = await browser.http.get("/konto")
    assert page.status_code == 200 and "weg@example.org" in page.text and "Protokoll" in page.text
    exported = (await browser.http.get("/konto/export")).json()
    assert exported["account"]["email"] == "weg@example.org"
    assert {entry["kind"] for entry in exported["auditTrail"]} >= {"account_created", "email_verified", "login"}
    account_id = exported["account"]["id"]
    wrong = await post_form(browser, "/konto", "/konto/loeschen", password="nicht das Passwort")
    assert wrong.status_code == 403
    deleted = await post_form(browser, "/konto", "/konto/loeschen", password=PASSWORD)
    assert deleted.status_code == 200 and "gelöscht" in deleted.text
    async with identity_of(app).database.session() as session:
        assert await session.get(Account, uuid.UUID(account_id)) is None
        trail = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.account_id == uuid.UUID(account_id))
        )
    assert trail == 0
    events = await events_of(app, "de.basisdienste.identity.account.deleted.v1")
    assert account_id in [event["account_id"] for event in events]
    assert (await browser.http.get("/konto")).status_code == 303


async def test_an_email_change_applies_once_the_new_address_confirms(app, browser, inbox):
    await register_and_verify(app, browser, inbox, "alt@example.org")
    await browser.login("/anmelden", "alt@example.org")
    wrong = await post_form(browser, "/konto", "/konto/e-mail", email="neu2@example.org", current_password="falsch!!")
    assert wrong.status_code == 403
    asked = await post_form(browser, "/konto", "/konto/e-mail", email="neu2@example.org", current_password=PASSWORD)
    assert asked.status_code == 200
    notice = await inbox.next_to("alt@example.org")
    assert "neue E-Mail-Adresse" in notice.get_payload(decode=True).decode()
    link = LINK.search((await inbox.next_to("neu2@example.org")).get_payload(decode=True).decode())
    async with identity_of(app).database.session() as session:
        assert (
            await session.scalar(select(func.count()).select_from(Account).where(Account.email == "neu2@example.org"))
            == 0
        )
    assert (await browser.http.get(link.group(1))).status_code == 200
    assert (await browser.http.get(link.group(1))).status_code == 400  # once
    async with identity_of(app).database.session() as session:
        assert (
            await session.scalar(select(func.count()).select_from(Account).where(Account.email == "neu2@example.org"))
            == 1
        )
