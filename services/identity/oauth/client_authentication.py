"""Who is calling the token, introspection and revocation endpoints (RFC 6749 §2.3, RFC 7523).

A client uses exactly one method: HTTP Basic (``client_secret_basic``), the secret in the body
(``client_secret_post``) or a signed assertion (``private_key_jwt``). Clients registered for a secret
may use either secret method; a private_key_jwt client only its assertion. A public client presents
just its ``client_id``, which identifies but does not authenticate it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_plus

from starlette.requests import Request

from kit.db import utcnow
from services.identity import paths
from services.identity.clients.directory import RegisteredClient
from services.identity.clients.schemas import SECRET_METHODS
from services.identity.oauth.client_assertions import ASSERTION_TYPE, unverified_issuer, verify_client_assertion
from services.identity.oauth.errors import OAuthError
from services.identity.oauth.forms import Form
from services.identity.runtime import Identity

Method = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
MAX_CLIENT_ID_LENGTH = 64

_FAILED = "client authentication failed"


@dataclass(frozen=True)
class Credentials:
    """What the request presents to identify the client."""

    method: Method
    client_id: str
    secret: str | None = None
    assertion: str | None = None


@dataclass(frozen=True)
class AuthenticatedClient:
    """A client and how it proved who it is (``none``: a public client, identified only)."""

    client: RegisteredClient
    method: Method

    @property
    def is_authenticated(self) -> bool:
        """Whether the client proved its identity (false for a public client)."""
        return self.method != "none"


def presented_credentials(request: Request, form: Form) -> Credentials:
    """The one set of client credentials in the request; ``invalid_request``/``invalid_client`` otherwise."""
    headers = request.headers.getlist("authorization")
    used = [bool(headers), "client_secret" in form, "client_assertion" in form or "client_assertion_type" in form]
    if sum(used) > 1 or len(headers) > 1:
        raise OAuthError("invalid_request", "use exactly one client authentication method")
    body_client_id = form.get("client_id")
    if headers:
        credentials = _basic(headers[0])
    elif "client_secret" in form:
        credentials = Credentials("client_secret_post", _client_id(body_client_id), secret=form.get("client_secret"))
    elif used[2]:
        credentials = _assertion(form)
    elif body_client_id is not None:
        credentials = Credentials("none", _client_id(body_client_id))
    else:
        raise OAuthError("invalid_client", "client authentication required")
    # RFC 6749 §2.3.1 lets a client send its client_id in the body as well: it must be the same one.
    if body_client_id is not None and body_client_id != credentials.client_id:
        raise OAuthError("invalid_request", "client_id does not match the client's credentials")
    return credentials


async def authenticate_client(
    identity: Identity, request: Request, form: Form, *, endpoint: str
) -> AuthenticatedClient:
    """The client making the request, its credentials checked; ``invalid_client`` if they do not hold.

    `endpoint` is the path called; a client assertion may name its URL, the token endpoint's or the issuer.
    """
    credentials = presented_credentials(request, form)
    client = await identity.clients.find(credentials.client_id)
    if client is None:
        raise OAuthError("invalid_client", _FAILED)
    if credentials.method in SECRET_METHODS:
        assert credentials.secret is not None
        if client.auth_method not in SECRET_METHODS or not identity.secrets.matches(
            credentials.secret, client.secret_hash
        ):
            raise OAuthError("invalid_client", _FAILED)
    elif credentials.method == "private_key_jwt":
        assert credentials.assertion is not None
        if client.auth_method != "private_key_jwt":
            raise OAuthError("invalid_client", _FAILED)
        audiences = {identity.issuer, identity.url(paths.TOKEN), identity.url(endpoint)}
        async with identity.database.session() as session, session.begin():
            await verify_client_assertion(
                session,
                credentials.assertion,
                client,
                audiences=audiences,
                now=utcnow(),
                leeway=identity.settings.clock_skew,
            )
    elif client.client_type != "public":
        # A confidential client that sends only its id has not authenticated.
        raise OAuthError("invalid_client", _FAILED)
    return AuthenticatedClient(client, credentials.method)


def _client_id(value: str | None) -> str:
    if value is None or not 1 <= len(value) <= MAX_CLIENT_ID_LENGTH:
        raise OAuthError("invalid_client", _FAILED)
    return value


def _basic(header: str) -> Credentials:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "client authentication must use the Basic scheme")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise OAuthError("invalid_client", "malformed Basic credentials") from error
    user, colon, password = decoded.partition(":")
    if not colon:
        raise OAuthError("invalid_client", "malformed Basic credentials")
    # RFC 6749 §2.3.1: both parts are form-encoded before they are put into the Basic credentials.
    return Credentials("client_secret_basic", _client_id(unquote_plus(user)), secret=unquote_plus(password))


def _assertion(form: Form) -> Credentials:
    assertion_type, assertion = form.get("client_assertion_type"), form.get("client_assertion")
    if assertion_type != ASSERTION_TYPE or assertion is None:
        raise OAuthError("invalid_client", f"client_assertion_type must be {ASSERTION_TYPE} with a client_assertion")
    return Credentials("private_key_jwt", _client_id(unverified_issuer(assertion)), assertion=assertion)
