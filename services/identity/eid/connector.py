"""The eID connector: what a login needs from an eID server, and its implementation over the TR-03130
eID-Interface. The simulator (``services.identity.eid.simulator``) speaks the same protocol, so the real
server replaces it by configuration alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

from services.identity.accounts.attributes import VerifiedAttribute
from services.identity.eid import messages

FailureKind = Literal["cancelled", "card_blocked", "timeout", "server", "other"]

#: German messages for the login page.
FAILURE_TEXTS: dict[str, str] = {
    "cancelled": "Sie haben den Vorgang mit dem Online-Ausweis abgebrochen.",
    "card_blocked": "Ihr Ausweis ist gesperrt oder die PIN ist blockiert. Die PIN können Sie mit der PUK entsperren.",
    "timeout": "Der Vorgang hat zu lange gedauert. Bitte versuchen Sie es erneut.",
    "server": "Der eID-Server ist nicht erreichbar. Bitte versuchen Sie es später erneut.",
    "other": "Die Anmeldung mit dem Online-Ausweis ist fehlgeschlagen.",
}


class EidError(Exception):
    """The eID process failed; `kind` says how (for the person, and the audit trail)."""

    def __init__(self, kind: FailureKind, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind = kind


@dataclass(frozen=True)
class EidSession:
    """An opened eID session: what the TC Token tells the eID client."""

    session_id: str
    server_address: str
    psk: str


@dataclass(frozen=True)
class EidIdentity:
    """What the card proved, at level hoch: the pseudonym for this service provider and the attributes."""

    pseudonym: str
    attributes: Sequence[VerifiedAttribute]


class EidConnector(Protocol):
    """An eID server as the login uses it."""

    async def open_session(self) -> EidSession:
        """Ask the eID server for a session for one login."""

    async def identity(self, session_id: str) -> EidIdentity:
        """The result of the session once the person has used their card; raises EidError."""


def attributes_of(data: messages.PersonalData) -> list[VerifiedAttribute]:
    """The card's data as OIDC claims at level hoch."""
    values: dict[str, object] = {
        "given_name": data.given_names,
        "family_name": data.family_names,
        "birthdate": data.date_of_birth,
        "place_of_birth": data.place_of_birth,
        "nationality": data.nationality,
        "document_type": data.document_type,
    }
    if data.address is not None:
        values["address"] = {
            "street_address": data.address.street,
            "locality": data.address.city,
            "postal_code": data.address.zip_code,
            "country": data.address.country,
        }
    return [VerifiedAttribute(name, value, "hoch", "eid") for name, value in values.items()]


class Tr03130Connector:
    """An eID server reached over the TR-03130 SOAP interface."""

    def __init__(self, server_url: str, http: httpx.AsyncClient | None = None) -> None:
        self.server_url = server_url
        self.http = http or httpx.AsyncClient(timeout=15.0)

    async def _call(self, message: bytes) -> bytes:
        try:
            response = await self.http.post(
                self.server_url, content=message, headers={"Content-Type": "text/xml; charset=utf-8"}
            )
        except httpx.HTTPError as error:
            raise EidError("server", type(error).__name__) from error
        if response.status_code != 200 or len(response.content) > messages.MAX_MESSAGE_BYTES:
            raise EidError("server", f"HTTP {response.status_code}")
        return response.content

    async def open_session(self) -> EidSession:
        """useIDRequest → the session."""
        try:
            answer = messages.parse_use_id_response(await self._call(messages.use_id_request()))
        except messages.MessageError as error:
            raise EidError("server", str(error)) from error
        if not answer.result.ok:
            raise EidError("server", answer.result.minor or answer.result.major)
        return EidSession(answer.session_id, answer.ecard_server_address, answer.psk)

    async def identity(self, session_id: str) -> EidIdentity:
        """getResultRequest → the personal data, at level hoch only."""
        try:
            answer = messages.parse_get_result_response(await self._call(messages.get_result_request(session_id)))
        except messages.MessageError as error:
            raise EidError("server", str(error)) from error
        if not answer.result.ok or answer.personal_data is None:
            kind = messages.KIND_OF_MINOR.get(answer.result.minor or "", "other")
            raise EidError(kind if kind in FAILURE_TEXTS else "other", answer.result.minor or "")  # type: ignore[arg-type]
        if answer.level_of_assurance != messages.LOA_HOCH:
            raise EidError("other", "the eID server did not confirm level hoch")
        return EidIdentity(answer.personal_data.restricted_id, attributes_of(answer.personal_data))
