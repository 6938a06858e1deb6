"""The client credentials grant (RFC 6749 §4.4): a client gets a token for itself, not for a user.

Scopes are down-selected (RFC 6749 §3.3): the client asks for some of its registered scopes, or for
none and gets all of them. Audiences are chosen with ``resource`` (RFC 8707, absolute URIs) and
``audience`` (service names, as Keycloak and others accept), each among the client's registered
audiences; without either, the token names every registered audience.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from services.identity.clients.directory import RegisteredClient
from services.identity.oauth.access_tokens import AccessTokenRequest
from services.identity.oauth.errors import OAuthError
from services.identity.oauth.forms import Form

#: Scopes about a user: meaningless in a token a client gets for itself.
USER_SCOPES = frozenset({"openid", "profile", "email", "address", "phone", "offline_access"})
#: RFC 6749 §3.3 scope-token.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")


def client_credentials_token(client: RegisteredClient, form: Form, default_lifetime: int) -> AccessTokenRequest:
    """What the token for this client credentials request says; an OAuth error if it may not have one."""
    if client.client_type != "confidential":
        raise OAuthError("unauthorized_client", "public clients cannot use the client_credentials grant")
    if "client_credentials" not in client.grant_types:
        raise OAuthError("unauthorized_client", "the client may not use the client_credentials grant")
    return AccessTokenRequest(
        subject=client.client_id,
        client_id=client.client_id,
        tenant=client.tenant,
        audiences=granted_audiences(client, form.get_all("resource"), form.get_all("audience")),
        scopes=granted_scopes(client, form.get("scope")),
        lifetime=client.access_token_lifetime or default_lifetime,
    )


def granted_scopes(client: RegisteredClient, requested: str | None) -> list[str]:
    """The scopes to grant: those asked for if the client may have each, else ``invalid_scope``."""
    allowed = [scope for scope in client.scopes if scope not in USER_SCOPES]
    if requested is None:
        return allowed
    asked = requested.split(" ")
    if not all(_SCOPE_TOKEN.fullmatch(scope) for scope in asked):
        raise OAuthError("invalid_scope", "scope must be scope tokens separated by single spaces")
    if not set(asked) <= set(allowed):
        raise OAuthError("invalid_scope", "the client may not have every scope requested")
    return list(dict.fromkeys(asked))


def granted_audiences(client: RegisteredClient, resources: list[str], audiences: list[str]) -> list[str]:
    """The audiences of the token: those named if the client may address each, else ``invalid_target``."""
    for resource in resources:
        if not _is_absolute_uri(resource):
            raise OAuthError("invalid_target", "resource must be an absolute URI without a fragment")
    named = list(dict.fromkeys([*resources, *audiences]))
    if not named:
        return list(client.audiences)
    if not set(named) <= set(client.audiences):
        raise OAuthError("invalid_target", "the client may not request a token for every audience named")
    return named


def _is_absolute_uri(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(parts.scheme and parts.netloc) and "#" not in value
