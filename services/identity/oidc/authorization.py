"""Checking an authorization request (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 7636).

Errors about the client or the redirect URI are shown to the person (:class:`PageError`): redirecting
to an unverified URI would make us an open redirector. Every other error goes back to the client's
redirect URI (:class:`RedirectError`) with ``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from services.identity.clients.directory import RegisteredClient
from services.identity.login.levels import LEVELS

#: RFC 7636 §4.2: the S256 challenge is the base64url SHA-256 of the verifier, 43 characters.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_MAX_VALUE = 2048
#: Scopes of attributes that need the person's consent before they are released.
ATTRIBUTE_SCOPES = frozenset({"profile", "email", "address", "phone"})


class PageError(Exception):
    """An error shown as a page: the client or its redirect URI cannot be trusted."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class RedirectError(Exception):
    """An error returned to the client at its redirect URI."""

    def __init__(self, redirect_uri: str, state: str | None, error: str, description: str) -> None:
        super().__init__(description)
        self.redirect_uri, self.state, self.error, self.description = redirect_uri, state, error, description


Failure = Callable[[str, str], RedirectError]


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked authorization request."""

    client: RegisteredClient
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: frozenset[str]
    max_age: int | None
    minimum_acr: str | None
    parameters: Mapping[str, str] = field(repr=False)

    @property
    def is_openid(self) -> bool:
        """Whether this is an OpenID Connect request (an ID token will be issued)."""
        return "openid" in self.scopes

    @property
    def attribute_scopes(self) -> frozenset[str]:
        """The requested scopes that release attributes and need consent."""
        return ATTRIBUTE_SCOPES.intersection(self.scopes)


def redirect_with(redirect_uri: str, parameters: Mapping[str, str | None]) -> str:
    """`redirect_uri` with `parameters` added to its query (RFC 6749 §4.1.2)."""
    query = urlencode({name: value for name, value in parameters.items() if value is not None})
    if not query:
        return redirect_uri
    return redirect_uri + ("&" if "?" in redirect_uri else "?") + query


def check_request(client: RegisteredClient | None, parameters: Mapping[str, str]) -> AuthorizationRequest:
    """The request if it is valid for `client`; raises PageError or RedirectError otherwise."""
    if client is None:
        raise PageError("Die anfragende Anwendung ist nicht registriert.")
    redirect_uri = parameters.get("redirect_uri")
    if redirect_uri is None and len(client.redirect_uris) == 1:
        redirect_uri = client.redirect_uris[0]
    if redirect_uri is None or redirect_uri not in client.redirect_uris:
        raise PageError("Die Rücksprungadresse der Anwendung ist nicht registriert.")
    state = parameters.get("state")

    def fail(error: str, description: str) -> RedirectError:
        return RedirectError(redirect_uri, state, error, description)

    if any(len(value) > _MAX_VALUE for value in parameters.values()):
        raise fail("invalid_request", "a parameter is too long")
    if "request" in parameters:
        raise fail("request_not_supported", "request objects are not supported")
    if "request_uri" in parameters:
        raise fail("request_uri_not_supported", "request_uri is not supported")
    response_type = parameters.get("response_type")
    if response_type is None:
        raise fail("invalid_request", "response_type is required")
    if response_type != "code":
        raise fail("unsupported_response_type", "only response_type=code is supported")
    if "authorization_code" not in client.grant_types:
        raise fail("unauthorized_client", "the client may not use the authorization code grant")
    if parameters.get("response_mode", "query") != "query":
        raise fail("invalid_request", "only response_mode=query is supported")
    scopes = tuple(dict.fromkeys((parameters.get("scope") or "").split()))
    allowed = {"openid", "offline_access", *ATTRIBUTE_SCOPES, *client.scopes}
    if not scopes:
        raise fail("invalid_scope", "scope is required")
    if unknown := [scope for scope in scopes if scope not in allowed]:
        raise fail("invalid_scope", f"scope not allowed for this client: {unknown[0]}")
    # PKCE (RFC 7636) with S256 for every client: it also protects confidential clients from code injection.
    challenge, method = parameters.get("code_challenge"), parameters.get("code_challenge_method")
    if challenge is None:
        raise fail("invalid_request", "code_challenge is required (PKCE with S256)")
    if method != "S256":
        raise fail("invalid_request", "code_challenge_method must be S256")
    if not _CHALLENGE.fullmatch(challenge):
        raise fail("invalid_request", "code_challenge is not a base64url SHA-256 value")
    prompt = frozenset((parameters.get("prompt") or "").split())
    if not prompt <= {"none", "login", "consent", "select_account"} or ("none" in prompt and len(prompt) > 1):
        raise fail("invalid_request", "prompt has an invalid value")
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=state,
        nonce=parameters.get("nonce"),
        code_challenge=challenge,
        prompt=prompt,
        max_age=_max_age(parameters.get("max_age"), fail),
        minimum_acr=_minimum_acr(parameters, fail),
        parameters=dict(parameters),
    )


def _max_age(value: str | None, fail: Failure) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise fail("invalid_request", "max_age must be a non-negative integer")
    return int(value)


def _minimum_acr(parameters: Mapping[str, str], fail: Failure) -> str | None:
    """The lowest level the client accepts: from ``acr_values`` (voluntary, Core §3.1.2.1) or an essential
    ``acr`` in the ``claims`` parameter (Core §5.5.1.1). With several acceptable values the lowest counts."""
    candidates: list[str] = []
    if acr_values := parameters.get("acr_values"):
        candidates = [value for value in acr_values.split() if value in LEVELS]
    if claims := parameters.get("claims"):
        try:
            document = json.loads(claims)
            request = document.get("id_token", {}).get("acr") or document.get("userinfo", {}).get("acr")
        except (ValueError, AttributeError, RecursionError) as error:
            raise fail("invalid_request", "claims is not a valid JSON object") from error
        if isinstance(request, dict):
            values = request.get("values") or ([request["value"]] if "value" in request else [])
            if isinstance(values, list):
                candidates = [value for value in values if value in LEVELS] or candidates
    if not candidates:
        return None
    return min(candidates, key=LEVELS.index)
