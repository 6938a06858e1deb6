"""``python -m services.identity.eid.simulator``: an eID server and eID client stand-in for development
and tests, speaking TR-03130 (SOAP eID-Interface) to the identity service and TR-03124 (TC Token,
refresh address) to the browser.

- ``POST /eIDService/{provider}``: the eID-Interface (useIDRequest, getResultRequest). The path names the
  service provider (a real eID server knows it from the provider's TLS client certificate); the
  pseudonym (RestrictedID) is stable per card and provider, and differs between providers.
- ``GET /eID-Client?tcTokenURL=...``: what the AusweisApp does on ``127.0.0.1:24727``: fetch the TC
  Token, then ask the person — here, a page to pick a test card or a failure (cancelled, card blocked,
  timeout) — and send the browser to the refresh address.

Sessions live in memory: restarting the simulator ends open logins, as a real eID server's restart would.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import html
import secrets
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

import httpx
import uvicorn
from fastapi import FastAPI, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from services.identity.eid import messages

#: Test cards, after the BSI test cards (Mustermann family).
CARDS = {
    "erika": messages.PersonalData(
        restricted_id="",
        given_names="ERIKA",
        family_names="MUSTERMANN",
        date_of_birth="1964-08-12",
        place_of_birth="BERLIN",
        nationality="D",
        document_type="ID",
        address=messages.Address("HEIDESTRASSE 17", "KÖLN", "51147"),
    ),
    "max": messages.PersonalData(
        restricted_id="",
        given_names="MAX",
        family_names="MUSTERMANN",
        date_of_birth="1981-04-01",
        place_of_birth="HAMBURG",
        nationality="D",
        document_type="ID",
        address=messages.Address("ALTE POSTSTRASSE 3", "MAGDEBURG", "39104"),
    ),
}
FAILURES = {"cancelled": "Abbrechen", "card_blocked": "Ausweis gesperrt", "timeout": "Zeitüberschreitung"}


@dataclass
class _Session:
    provider: str
    psk: str
    card: str | None = None
    failure: str | None = None
    fetched: bool = False
    counter: int = field(default=0)


def create_simulator(secret: bytes | None = None) -> FastAPI:
    """The simulator's app; `secret` keys the pseudonyms (random per process by default)."""
    key = secret or secrets.token_bytes(32)
    sessions: dict[str, _Session] = {}
    app = FastAPI(title="eID simulator", docs_url=None, redoc_url=None, openapi_url=None)

    def pseudonym(card: str, provider: str) -> str:
        return hmac.new(key, f"{card}|{provider}".encode(), hashlib.sha256).hexdigest()

    @app.post("/eIDService/{provider}")
    async def eid_service(provider: str, request: Request) -> Response:
        try:
            body = messages.body_of(await request.body())
        except messages.MessageError as error:
            return Response(str(error), status_code=400)
        if body.tag == f"{{{messages.EID}}}useIDRequest":
            session_id = secrets.token_hex(16)
            sessions[session_id] = _Session(provider=provider, psk=secrets.token_hex(32))
            address = str(request.base_url).rstrip("/") + "/paos"
            return _xml(messages.use_id_response(session_id, address, sessions[session_id].psk))
        if body.tag == f"{{{messages.EID}}}getResultRequest":
            session_id = body.findtext(f"{{{messages.EID}}}Session/{{{messages.EID}}}ID") or ""
            session = sessions.get(session_id)
            if session is None or session.provider != provider or session.fetched:
                return _xml(_error("invalid_session"))
            if session.failure is not None:
                sessions.pop(session_id)
                return _xml(_error(session.failure))
            if session.card is None:
                return _xml(_error("no_result_yet"))
            session.fetched = True
            card = CARDS[session.card]
            data = messages.PersonalData(**{**card.__dict__, "restricted_id": pseudonym(session.card, provider)})
            return _xml(messages.get_result_response(messages.Result(messages.RESULT_OK), data))
        return Response("unknown operation", status_code=400)

    @app.get("/eID-Client")
    async def eid_client(tc_token_url: Annotated[str, Query(alias="tcTokenURL", max_length=2048)]) -> Response:
        async with httpx.AsyncClient(timeout=10) as http:
            try:
                token = messages.parse_tc_token((await http.get(tc_token_url)).content)
            except (httpx.HTTPError, messages.MessageError) as error:
                return HTMLResponse(f"<p>TC Token nicht lesbar: {html.escape(str(error))}</p>", status_code=400)
        if token["SessionIdentifier"] not in sessions:
            return HTMLResponse("<p>Unbekannte eID-Sitzung.</p>", status_code=400)
        return HTMLResponse(_choice_page(token["SessionIdentifier"], token["RefreshAddress"]))

    @app.post("/eID-Client")
    async def eid_client_answer(request: Request) -> Response:
        form = dict(parse_qsl((await request.body())[:8192].decode(errors="replace")))
        session_id, refresh, choice = form.get("session_id", ""), form.get("refresh", ""), form.get("choice", "")
        session = sessions.get(session_id)
        if session is None:
            return HTMLResponse("<p>Unbekannte eID-Sitzung.</p>", status_code=400)
        if choice in CARDS:
            session.card = choice
            outcome = {"ResultMajor": "ok"}
        else:
            session.failure = choice if choice in FAILURES else "cancelled"
            outcome = {"ResultMajor": "error", "ResultMinor": messages.MINOR_CODES[session.failure]}
        separator = "&" if "?" in refresh else "?"
        return RedirectResponse(refresh + separator + urlencode(outcome), status_code=303)

    return app


def _xml(body: bytes) -> Response:
    return Response(body, media_type="text/xml; charset=utf-8")


def _error(kind: str) -> bytes:
    return messages.get_result_response(messages.Result(messages.RESULT_ERROR, messages.MINOR_CODES[kind]))


def _choice_page(session_id: str, refresh: str) -> str:
    buttons = "".join(
        f'<button type="submit" name="choice" value="{name}">{card.given_names.title()} '
        f"{card.family_names.title()}: Ausweis auflegen, PIN eingeben</button><br>"
        for name, card in CARDS.items()
    ) + "".join(
        f'<button type="submit" name="choice" value="{name}">{label}</button> ' for name, label in FAILURES.items()
    )
    return (
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>eID-Simulator</title></head><body>'
        "<h1>eID-Simulator (statt AusweisApp)</h1><p>Wählen Sie einen Testausweis oder einen Fehlerfall.</p>"
        f'<form method="post"><input type="hidden" name="session_id" value="{html.escape(session_id)}">'
        f'<input type="hidden" name="refresh" value="{html.escape(refresh)}">{buttons}</form></body></html>'
    )


def main() -> None:
    """Serve the simulator on 127.0.0.1."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8010)
    arguments = parser.parse_args()
    uvicorn.run(create_simulator(), host="127.0.0.1", port=arguments.port, log_level="warning")


if __name__ == "__main__":
    main()
