"""Helpers of the account tests: forms sent as a browser sends them, links from the e-mails, outbox events."""

from __future__ import annotations

import json
import re

import httpx
from sqlalchemy import text

from tests.services.identity.oidc.flow import PASSWORD, Browser, hidden_fields
from tests.services.identity.support import identity_of

LINK = re.compile(r"http://identity\.test(/\S+)")


async def post_form(browser: Browser, page_path: str, action: str, **fields: str) -> httpx.Response:
    """Open a page and send its form with `fields` (the CSRF token comes from the page)."""
    page = await browser.http.get(page_path)
    assert page.status_code == 200, page.text
    return await browser.http.post(action, data={**hidden_fields(page.text), **fields})


async def events_of(app, event_type: str) -> list[dict]:
    async with identity_of(app).database.session() as session:
        rows = await session.execute(text("SELECT payload FROM outbox WHERE type = :type"), {"type": event_type})
        return [json.loads(row[0]) for row in rows]


async def register_and_verify(app, browser: Browser, inbox, email: str) -> None:
    answer = await post_form(
        browser, "/registrieren", "/registrieren", email=email, password=PASSWORD, password2=PASSWORD
    )
    assert answer.status_code == 200 and "Fast geschafft" in answer.text
    mail = await inbox.next_to(email)
    link = LINK.search(mail.get_payload(decode=True).decode())
    assert link is not None
    verified = await browser.http.get(link.group(1))
    assert verified.status_code == 200 and "bestätigt" in verified.text
