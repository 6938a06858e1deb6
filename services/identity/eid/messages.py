"""The eID-Server interface of BSI TR-03130 (eID-Interface, SOAP 1.1 in namespace ``http://bsi.bund.de/eID/``):
``useIDRequest``/``useIDResponse`` to open a session, ``getResultRequest``/``getResultResponse`` to read the
card's data after the person entered their PIN; and the TC Token of TR-03124 the eID client fetches.

Only what a login needs is modelled: the personal data groups (names, birth date and place, address,
nationality, document type), the restricted identifier (the pseudonym per service provider), the level of
assurance, and the result codes. XML from the other side is parsed with defusedxml.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml.ElementTree import fromstring

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
EID = "http://bsi.bund.de/eID/"
DSS = "urn:oasis:names:tc:dss:1.0:core:schema"
LOA_HOCH = "http://bsi.bund.de/eID/LoA/hoch"
RESULT_OK = "http://www.bsi.bund.de/ecard/api/1.1/resultmajor#ok"
RESULT_ERROR = "http://www.bsi.bund.de/ecard/api/1.1/resultmajor#error"
#: Result minor codes the simulator answers with, and the failure kinds a login distinguishes.
MINOR_CODES = {
    "cancelled": "http://www.bsi.bund.de/ecard/api/1.1/resultminor/sal#cancellationByUser",
    "card_blocked": "http://www.bsi.bund.de/ecard/api/1.1/resultminor/ifdl/passwordBlocked",
    "timeout": "http://www.bsi.bund.de/ecard/api/1.1/resultminor/ifdl/timeout",
    "no_result_yet": "http://www.bsi.bund.de/eid/server/2.0/resultminor/getResult#noResultYet",
    "invalid_session": "http://www.bsi.bund.de/eid/server/2.0/resultminor/getResult#invalidSession",
}
KIND_OF_MINOR = {code: kind for kind, code in MINOR_CODES.items()}
#: The data groups a login asks for (useIDRequest/UseOperations).
OPERATIONS = ("DocumentType", "GivenNames", "FamilyNames", "DateOfBirth", "PlaceOfBirth", "Nationality",
              "PlaceOfResidence", "RestrictedID")  # fmt: skip
MAX_MESSAGE_BYTES = 64 * 1024


class MessageError(ValueError):
    """A message does not have the expected structure."""


@dataclass(frozen=True)
class Address:
    """PlaceOfResidence/StructuredPlace."""

    street: str
    city: str
    zip_code: str
    country: str = "D"


@dataclass(frozen=True)
class PersonalData:
    """getResultResponse/PersonalData, as far as a login uses it."""

    restricted_id: str
    given_names: str
    family_names: str
    date_of_birth: str
    place_of_birth: str
    nationality: str
    document_type: str
    address: Address | None = None


@dataclass(frozen=True)
class Result:
    """A dss:Result: major code and, on errors, the minor code."""

    major: str
    minor: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the operation succeeded."""
        return self.major == RESULT_OK


@dataclass(frozen=True)
class UseIdResponse:
    """useIDResponse: the session the eID client continues with."""

    session_id: str
    ecard_server_address: str
    psk: str
    result: Result


@dataclass(frozen=True)
class GetResultResponse:
    """getResultResponse: the personal data, or the result saying why there is none."""

    result: Result
    personal_data: PersonalData | None = field(default=None)
    level_of_assurance: str | None = None


def _envelope(body_child: Element) -> bytes:
    envelope = Element(f"{{{SOAP}}}Envelope")
    SubElement(envelope, f"{{{SOAP}}}Header")
    SubElement(envelope, f"{{{SOAP}}}Body").append(body_child)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + tostring(envelope)


def _text(parent: Element, tag: str, value: str) -> Element:
    element = SubElement(parent, tag)
    element.text = value
    return element


def _result(parent: Element, result: Result) -> None:
    element = SubElement(parent, f"{{{DSS}}}Result")
    _text(element, f"{{{DSS}}}ResultMajor", result.major)
    if result.minor:
        _text(element, f"{{{DSS}}}ResultMinor", result.minor)


def use_id_request() -> bytes:
    """A useIDRequest for the data groups of a login at level hoch."""
    request = Element(f"{{{EID}}}useIDRequest")
    operations = SubElement(request, f"{{{EID}}}UseOperations")
    for operation in OPERATIONS:
        _text(operations, f"{{{EID}}}{operation}", "REQUIRED")
    _text(request, f"{{{EID}}}LevelOfAssurance", LOA_HOCH)
    return _envelope(request)


def use_id_response(session_id: str, ecard_server_address: str, psk: str) -> bytes:
    """A successful useIDResponse."""
    response = Element(f"{{{EID}}}useIDResponse")
    session = SubElement(response, f"{{{EID}}}Session")
    _text(session, f"{{{EID}}}ID", session_id)
    _text(response, f"{{{EID}}}eCardServerAddress", ecard_server_address)
    psk_element = SubElement(response, f"{{{EID}}}PSK")
    _text(psk_element, f"{{{EID}}}ID", session_id)
    _text(psk_element, f"{{{EID}}}Key", psk)
    _result(response, Result(RESULT_OK))
    return _envelope(response)


def get_result_request(session_id: str, counter: int = 1) -> bytes:
    """A getResultRequest for a session."""
    request = Element(f"{{{EID}}}getResultRequest")
    session = SubElement(request, f"{{{EID}}}Session")
    _text(session, f"{{{EID}}}ID", session_id)
    _text(request, f"{{{EID}}}RequestCounter", str(counter))
    return _envelope(request)


def get_result_response(result: Result, data: PersonalData | None = None) -> bytes:
    """A getResultResponse with the personal data on success."""
    response = Element(f"{{{EID}}}getResultResponse")
    if data is not None:
        personal = SubElement(response, f"{{{EID}}}PersonalData")
        _text(personal, f"{{{EID}}}DocumentType", data.document_type)
        _text(personal, f"{{{EID}}}GivenNames", data.given_names)
        _text(personal, f"{{{EID}}}FamilyNames", data.family_names)
        _text(SubElement(personal, f"{{{EID}}}DateOfBirth"), f"{{{EID}}}DateValue", data.date_of_birth)
        place = SubElement(SubElement(personal, f"{{{EID}}}PlaceOfBirth"), f"{{{EID}}}FreetextPlace")
        place.text = data.place_of_birth
        _text(personal, f"{{{EID}}}Nationality", data.nationality)
        if data.address is not None:
            structured = SubElement(SubElement(personal, f"{{{EID}}}PlaceOfResidence"), f"{{{EID}}}StructuredPlace")
            _text(structured, f"{{{EID}}}Street", data.address.street)
            _text(structured, f"{{{EID}}}City", data.address.city)
            _text(structured, f"{{{EID}}}Country", data.address.country)
            _text(structured, f"{{{EID}}}ZipCode", data.address.zip_code)
        _text(SubElement(personal, f"{{{EID}}}RestrictedID"), f"{{{EID}}}ID", data.restricted_id)
        _text(response, f"{{{EID}}}LevelOfAssurance", LOA_HOCH)
    _result(response, result)
    return _envelope(response)


def body_of(message: bytes) -> Element:
    """The one child of the SOAP body; MessageError for anything else."""
    if len(message) > MAX_MESSAGE_BYTES:
        raise MessageError("message too large")
    try:
        envelope = fromstring(message)
    except Exception as error:  # defusedxml raises several types for hostile or broken XML
        raise MessageError("not well-formed XML") from error
    body = envelope.find(f"{{{SOAP}}}Body")
    if envelope.tag != f"{{{SOAP}}}Envelope" or body is None or len(body) != 1:
        raise MessageError("not a SOAP envelope with one body element")
    return body[0]


def _required(element: Element, path: str) -> str:
    found = element.findtext(path, namespaces={"eid": EID, "dss": DSS})
    if found is None or not found.strip():
        raise MessageError(f"{path} is missing")
    return found.strip()


def _parse_result(element: Element) -> Result:
    return Result(
        _required(element, "dss:Result/dss:ResultMajor"),
        element.findtext("dss:Result/dss:ResultMinor", namespaces={"dss": DSS}),
    )


def parse_use_id_response(message: bytes) -> UseIdResponse:
    """Read a useIDResponse."""
    body = body_of(message)
    if body.tag != f"{{{EID}}}useIDResponse":
        raise MessageError("not a useIDResponse")
    return UseIdResponse(
        session_id=_required(body, "eid:Session/eid:ID"),
        ecard_server_address=_required(body, "eid:eCardServerAddress"),
        psk=_required(body, "eid:PSK/eid:Key"),
        result=_parse_result(body),
    )


def parse_get_result_response(message: bytes) -> GetResultResponse:
    """Read a getResultResponse."""
    body = body_of(message)
    if body.tag != f"{{{EID}}}getResultResponse":
        raise MessageError("not a getResultResponse")
    result = _parse_result(body)
    personal = body.find(f"{{{EID}}}PersonalData")
    if not result.ok or personal is None:
        return GetResultResponse(result)
    residence = personal.find(f"{{{EID}}}PlaceOfResidence/{{{EID}}}StructuredPlace")
    address = None
    if residence is not None:
        address = Address(
            street=_required(residence, "eid:Street"),
            city=_required(residence, "eid:City"),
            zip_code=_required(residence, "eid:ZipCode"),
            country=_required(residence, "eid:Country"),
        )
    date_of_birth = _required(personal, "eid:DateOfBirth/eid:DateValue")
    try:
        dt.date.fromisoformat(date_of_birth)
    except ValueError as error:
        raise MessageError("DateOfBirth is not a date") from error
    data = PersonalData(
        restricted_id=_required(personal, "eid:RestrictedID/eid:ID"),
        given_names=_required(personal, "eid:GivenNames"),
        family_names=_required(personal, "eid:FamilyNames"),
        date_of_birth=date_of_birth,
        place_of_birth=_required(personal, "eid:PlaceOfBirth/eid:FreetextPlace"),
        nationality=_required(personal, "eid:Nationality"),
        document_type=_required(personal, "eid:DocumentType"),
        address=address,
    )
    return GetResultResponse(result, data, body.findtext(f"{{{EID}}}LevelOfAssurance"))


def tc_token(server_address: str, session_id: str, refresh_address: str, psk: str) -> bytes:
    """The TC Token (TR-03124-1 §2.6) the eID client fetches to connect to the eID server."""
    token = Element("TCTokenType")
    _text(token, "ServerAddress", server_address)
    _text(token, "SessionIdentifier", session_id)
    _text(token, "RefreshAddress", refresh_address)
    _text(token, "Binding", "urn:liberty:paos:2006-08")
    _text(token, "PathSecurity-Protocol", "urn:ietf:rfc:4279")
    _text(SubElement(token, "PathSecurity-Parameters"), "PSK", psk)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + tostring(token)


def parse_tc_token(message: bytes) -> dict[str, str]:
    """The fields of a TC Token."""
    if len(message) > MAX_MESSAGE_BYTES:
        raise MessageError("TC Token too large")
    try:
        token = fromstring(message)
    except Exception as error:
        raise MessageError("TC Token is not well-formed XML") from error
    fields = {name: token.findtext(name) for name in ("ServerAddress", "SessionIdentifier", "RefreshAddress")}
    if token.tag != "TCTokenType" or not all(fields.values()):
        raise MessageError("not a TC Token")
    return {name: str(value) for name, value in fields.items()}
