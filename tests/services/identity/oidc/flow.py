"""A browser for the identity's pages in tests: follows the login and consent forms as a person would."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI

from services.identity.accounts.service import create_account
from tests.services.identity.support import identity_of

PASSWORD = "ein langes Passwort 42"
REDIRECT_URI = "https://portal.example/callback"
_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden fields of the forms on a page (CSRF token, continuation, request)."""
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def query_of(location: str) -> dict[str, str]:
    """The query parameters of a redirect target."""
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def local(location: str) -> str:
    """A redirect target on the identity service as a path for the test client."""
    parts = urlsplit(location)
    return parts.path + ("?" + parts.query if parts.query else "")


async def new_person(app: FastAPI, email: str) -> None:
    """A verified account with the test password."""
    identity = identity_of(app)
    async with identity.database.session() as session, session.begin():
        await create_account(session, email=email, password=PASSWORD, verified=True)


@dataclass
class Browser:
    """A person's browser: its own cookies, never following redirects by itself."""

    http: httpx.AsyncClient

    async def login(self, login_page: str, email: str, password: str = PASSWORD) -> httpx.Response:
        """Fill in and send the login form shown at `login_page`."""
        page = await self.http.get(local(login_page))
        assert page.status_code == 200, page.text
        fields = hidden_fields(page.text)
        return await self.http.post("/anmelden", data={**fields, "email": email, "password": password})

    async def authorize(self, url: str, email: str, *, consent: str | None = "allow") -> str:
        """Go through authorization as a person: log in if asked, consent if asked; the redirect to the client."""
        response = await self.http.get(local(url))
        for _ in range(6):
            assert response.status_code in (200, 303), response.text
            if response.status_code == 303:
                location = response.headers["location"]
                if location.startswith(REDIRECT_URI):
                    return location
                if urlsplit(location).path == "/anmelden":
                    response = await self.login(location, email)
                    continue
                response = await self.http.get(local(location))
                continue
            assert consent is not None, response.text
            assert "möchte folgende Angaben" in response.text
            fields = hidden_fields(response.text)
            response = await self.http.post("/authorize/zustimmung", data={**fields, "decision": consent})
        raise AssertionError("authorization did not end")
