"""The documented shapes of the OAuth endpoints' requests and responses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_CLIENT_AUTHENTICATION: dict[str, Any] = {
    "client_id": {"type": "string", "description": "With client_secret_post, or alone for a public client."},
    "client_secret": {"type": "string", "description": "client_secret_post (or use HTTP Basic instead)."},
    "client_assertion_type": {"type": "string", "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]},
    "client_assertion": {"type": "string", "description": "private_key_jwt: a JWT signed with a registered key."},
}

TOKEN_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "scope": {"type": "string", "description": "Space-separated scopes; omitted = every scope of the client."},
        "resource": {
            "type": "array",
            "items": {"type": "string", "format": "uri"},
            "description": "RFC 8707 resource indicators (repeat the parameter for several).",
        },
        "audience": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Audiences (service names) the token is for; omitted = every audience of the client.",
        },
        **_CLIENT_AUTHENTICATION,
    },
}

TOKEN_OPERATION_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["token"],
    "properties": {
        "token": {"type": "string"},
        "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
        **_CLIENT_AUTHENTICATION,
    },
}


class TokenResponse(BaseModel):
    """A successful token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = Field(description='Always "Bearer".')
    expires_in: int = Field(description="Seconds until the access token expires.")
    scope: str | None = Field(default=None, description="The scopes granted, space-separated.")


class IntrospectionResponse(BaseModel):
    """RFC 7662 §2.2: ``{"active": false}`` alone for a token that is not active, else its claims."""

    model_config = ConfigDict(extra="allow")

    active: bool
    scope: str | None = None
    client_id: str | None = None
    token_type: str | None = None
    exp: int | None = None
    iat: int | None = None
    sub: str | None = None
    aud: str | list[str] | None = None
    iss: str | None = None
    jti: str | None = None
    tenant: str | None = None
    acr: str | None = None
