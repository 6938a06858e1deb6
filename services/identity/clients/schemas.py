"""The admin API's shapes of a client and the rules a client's settings must follow together.

Names follow OpenID Connect Dynamic Client Registration metadata where it has one (``redirect_uris``,
``grant_types``, ``token_endpoint_auth_method``, ``jwks``, ``subject_type``, ``sector_identifier_uri``,
``backchannel_logout_uri``), so operators recognise them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Self

from joserfc.jwk import RSAKey
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from kit.auth.jwks import parse_jwks
from services.identity.clients.uris import check_outbound_uri, check_redirect_uri, uri_host
from services.identity.config import ACCESS_TOKEN_LIFETIME_BOUNDS, ID_TOKEN_LIFETIME_BOUNDS

ClientType = Literal["confidential", "public"]
#: Never "implicit" or "password": OAuth 2.0 Security BCP (RFC 9700) forbids both.
GrantType = Literal["authorization_code", "refresh_token", "client_credentials"]
AuthMethod = Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
SubjectType = Literal["public", "pairwise"]

#: Authentication methods that use the client secret; a client registered with one may use either.
SECRET_METHODS = frozenset({"client_secret_basic", "client_secret_post"})
MAX_CLIENT_KEYS = 10
MAX_CLIENT_RSA_BITS = 4096
_DEFAULT_AUTH_METHOD: dict[str, AuthMethod] = {"public": "none", "confidential": "client_secret_basic"}
_KEPT_JWK_MEMBERS = ("kty", "kid", "use", "alg", "key_ops", "crv", "x", "y", "n", "e")
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
#: RFC 6749 §3.3 scope-token.
ScopeToken = Annotated[str, StringConstraints(pattern=r"^[\x21\x23-\x5B\x5D-\x7E]{1,128}$")]
#: A service name ("payment") or a resource URI (RFC 8707): printable ASCII without space.
Audience = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7E]{1,255}$")]
RedirectUri = Annotated[str, AfterValidator(check_redirect_uri)]
OutboundUri = Annotated[str, AfterValidator(check_outbound_uri)]
AccessTokenLifetime = Annotated[int, Field(ge=ACCESS_TOKEN_LIFETIME_BOUNDS[0], le=ACCESS_TOKEN_LIFETIME_BOUNDS[1])]
IdTokenLifetime = Annotated[int, Field(ge=ID_TOKEN_LIFETIME_BOUNDS[0], le=ID_TOKEN_LIFETIME_BOUNDS[1])]


def _public_signing_keys(document: dict[str, Any]) -> dict[str, Any]:
    keys = document.get("keys")
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_CLIENT_KEYS:
        raise ValueError(f"jwks must have a 'keys' array of 1 to {MAX_CLIENT_KEYS} keys")
    if any(not isinstance(key, dict) or _PRIVATE_JWK_MEMBERS & key.keys() for key in keys):
        raise ValueError("jwks must hold public keys only")
    usable = parse_jwks(document)
    if len(usable) != len(keys):
        raise ValueError("every key needs a unique kid and must be an EC P-256 or RSA (2048+ bits) signing key")
    # Verifying with a huge RSA key is slow: a client must not be able to make our token endpoint crawl.
    if any(isinstance(key, RSAKey) and key.public_key.key_size > MAX_CLIENT_RSA_BITS for key in usable.values()):
        raise ValueError(f"RSA keys may have at most {MAX_CLIENT_RSA_BITS} bits")
    # Only what verification needs is kept: no certificates or other members of unbounded size.
    return {"keys": [{name: key[name] for name in _KEPT_JWK_MEMBERS if name in key} for key in keys]}


ClientJwks = Annotated[dict[str, Any], AfterValidator(_public_signing_keys)]


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


class ClientSettings(BaseModel):
    """Everything about a client an administrator decides, checked as a whole."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    type: ClientType = Field(description="confidential (has credentials) or public (a browser or native app).")
    token_endpoint_auth_method: AuthMethod | None = Field(
        default=None,
        description="client_secret_basic or client_secret_post (either is accepted), private_key_jwt (RFC 7523, "
        "with jwks), none for public clients. Default: none for public, client_secret_basic for confidential.",
    )
    redirect_uris: Annotated[list[RedirectUri], AfterValidator(_unique)] = Field(default=[], max_length=20)
    post_logout_redirect_uris: Annotated[list[RedirectUri], AfterValidator(_unique)] = Field(
        default=[], max_length=20, description="Where RP-initiated logout may return the browser (exact match)."
    )
    grant_types: Annotated[list[GrantType], AfterValidator(_unique)] = Field(min_length=1)
    scopes: Annotated[list[ScopeToken], AfterValidator(_unique)] = Field(
        default=[], max_length=100, description="Scopes the client may be granted."
    )
    audiences: Annotated[list[Audience], AfterValidator(_unique)] = Field(
        default=[], max_length=20, description="Audiences (services, resource URIs) its access tokens may name."
    )
    jwks: ClientJwks | None = Field(default=None, description="Public keys of a private_key_jwt client.")
    backchannel_logout_uri: OutboundUri | None = None
    backchannel_logout_session_required: bool = False
    subject_type: SubjectType = "public"
    sector_identifier_uri: OutboundUri | None = Field(
        default=None,
        description="Groups the client's hosts into one sector for pairwise subject identifiers (fetched by us).",
    )
    access_token_lifetime: AccessTokenLifetime | None = Field(default=None, description="Seconds; null = default.")
    id_token_lifetime: IdTokenLifetime | None = Field(default=None, description="Seconds; null = default.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.token_endpoint_auth_method is None:
            self.token_endpoint_auth_method = _DEFAULT_AUTH_METHOD[self.type]
        grants, method = set(self.grant_types), self.token_endpoint_auth_method
        if (self.type == "public") != (method == "none"):
            raise ValueError("public clients, and only they, use token_endpoint_auth_method none")
        if self.type == "public" and "client_credentials" in grants:
            raise ValueError("a public client cannot use client_credentials")
        if "refresh_token" in grants and "authorization_code" not in grants:
            raise ValueError("refresh_token needs authorization_code")
        if "authorization_code" in grants and not self.redirect_uris:
            raise ValueError("authorization_code needs at least one redirect URI")
        if "client_credentials" in grants and not self.audiences:
            raise ValueError("client_credentials needs at least one audience")
        if (method == "private_key_jwt") != (self.jwks is not None):
            raise ValueError("jwks is required for private_key_jwt and used by nothing else")
        if self.backchannel_logout_session_required and self.backchannel_logout_uri is None:
            raise ValueError("backchannel_logout_session_required needs a backchannel_logout_uri")
        hosts = {uri_host(uri) for uri in self.redirect_uris}
        if self.subject_type == "pairwise" and self.sector_identifier_uri is None and len(hosts) != 1:
            raise ValueError("pairwise needs a sector_identifier_uri unless all redirect URIs share one host")
        return self

    @property
    def uses_secret(self) -> bool:
        """Whether the client authenticates with a secret."""
        return self.token_endpoint_auth_method in SECRET_METHODS


class ClientChanges(BaseModel):
    """The settings to change; omitted ones stay. The type of a client never changes: register a new one."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    token_endpoint_auth_method: AuthMethod | None = None
    redirect_uris: list[RedirectUri] | None = Field(default=None, max_length=20)
    post_logout_redirect_uris: list[RedirectUri] | None = Field(default=None, max_length=20)
    grant_types: list[GrantType] | None = Field(default=None, min_length=1)
    scopes: list[ScopeToken] | None = Field(default=None, max_length=100)
    audiences: list[Audience] | None = Field(default=None, max_length=20)
    jwks: ClientJwks | None = None
    backchannel_logout_uri: OutboundUri | None = None
    backchannel_logout_session_required: bool | None = None
    subject_type: SubjectType | None = None
    sector_identifier_uri: OutboundUri | None = None
    access_token_lifetime: AccessTokenLifetime | None = None
    id_token_lifetime: IdTokenLifetime | None = None


class ClientView(BaseModel):
    """A registered client as its administrators see it (never its secret)."""

    client_id: str
    tenant: str
    name: str
    type: ClientType
    token_endpoint_auth_method: AuthMethod
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[GrantType]
    scopes: list[str]
    audiences: list[str]
    jwks: dict[str, Any] | None
    backchannel_logout_uri: str | None
    backchannel_logout_session_required: bool
    subject_type: SubjectType
    sector_identifier_uri: str | None
    access_token_lifetime: int | None
    id_token_lifetime: int | None
    secret_rotated_at: dt.datetime | None = Field(description="When the current secret was issued; null = none.")
    created_at: dt.datetime
    updated_at: dt.datetime


class ClientWithSecret(ClientView):
    """A client with its new secret: the only time the secret is shown. Store it now."""

    client_secret: str | None = Field(description="The client secret; null for clients without one.")


class NewSecret(BaseModel):
    """A client's new secret; the old one stops working at once."""

    client_id: str
    client_secret: str
    secret_rotated_at: dt.datetime
