"""Provider metadata: OpenID Connect Discovery 1.0 and OAuth 2.0 Authorization Server Metadata (RFC 8414).

Both documents are the same: RFC 8414 §2 takes over the OpenID fields. Every endpoint is the issuer URL
plus its path (:mod:`services.identity.paths`), so behind a gateway that serves the identity service
under ``/identity`` the issuer is ``https://<gateway>/identity`` and the endpoints follow. RFC 8414 §3
puts the metadata of an issuer with a path at ``/.well-known/oauth-authorization-server/<path>``; that
form is served too.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from starlette.responses import Response

from kit.http.problems import ProblemError, problem_responses
from services.identity import paths
from services.identity.runtime import Identity, get_identity

router = APIRouter(tags=["discovery"])

#: TR-03107-1 trust levels (Vertrauensniveaus), as the `acr` values of tokens.
ACR_VALUES = ["niedrig", "substanziell", "hoch"]
SCOPES = ["openid", "profile", "email", "address", "phone", "offline_access"]
CLAIMS = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    "sid",
    "name",
    "given_name",
    "family_name",
    "birthdate",
    "email",
    "email_verified",
    "address",
    "phone_number",
    "phone_number_verified",
]
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
_CACHE_CONTROL = "public, max-age=3600"


class ProviderMetadata(BaseModel):
    """OpenID Provider Metadata (OIDC Discovery 1.0 §3) and Authorization Server Metadata (RFC 8414 §2)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    end_session_endpoint: str = Field(description="RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).")
    introspection_endpoint: str
    revocation_endpoint: str
    scopes_supported: list[str]
    response_types_supported: list[str]
    response_modes_supported: list[str]
    grant_types_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str]
    introspection_endpoint_auth_methods_supported: list[str]
    introspection_endpoint_auth_signing_alg_values_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_signing_alg_values_supported: list[str]
    code_challenge_methods_supported: list[str]
    acr_values_supported: list[str]
    claims_supported: list[str]
    claim_types_supported: list[str]
    claims_parameter_supported: bool
    request_parameter_supported: bool
    request_uri_parameter_supported: bool
    require_request_uri_registration: bool
    backchannel_logout_supported: bool
    backchannel_logout_session_supported: bool
    frontchannel_logout_supported: bool
    authorization_response_iss_parameter_supported: bool
    ui_locales_supported: list[str]
    claims_locales_supported: list[str]


def provider_metadata(identity: Identity) -> ProviderMetadata:
    """The metadata of this issuer."""
    algorithms = list(identity.settings.signing_algorithms)
    assertion_algorithms = ["ES256", "RS256", "PS256"]
    return ProviderMetadata(
        issuer=identity.issuer,
        authorization_endpoint=identity.url(paths.AUTHORIZE),
        token_endpoint=identity.url(paths.TOKEN),
        userinfo_endpoint=identity.url(paths.USERINFO),
        jwks_uri=identity.url(paths.JWKS),
        end_session_endpoint=identity.url(paths.LOGOUT),
        introspection_endpoint=identity.url(paths.INTROSPECT),
        revocation_endpoint=identity.url(paths.REVOKE),
        scopes_supported=SCOPES,
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=["authorization_code", "refresh_token", "client_credentials"],
        subject_types_supported=["public", "pairwise"],
        id_token_signing_alg_values_supported=algorithms,
        # "none": public clients redeem their code with PKCE and no credentials.
        token_endpoint_auth_methods_supported=[*AUTH_METHODS, "none"],
        token_endpoint_auth_signing_alg_values_supported=assertion_algorithms,
        introspection_endpoint_auth_methods_supported=AUTH_METHODS,
        introspection_endpoint_auth_signing_alg_values_supported=assertion_algorithms,
        revocation_endpoint_auth_methods_supported=[*AUTH_METHODS, "none"],
        revocation_endpoint_auth_signing_alg_values_supported=assertion_algorithms,
        code_challenge_methods_supported=["S256"],
        acr_values_supported=ACR_VALUES,
        claims_supported=CLAIMS,
        claim_types_supported=["normal"],
        claims_parameter_supported=True,
        # Both default to true when absent (OIDC Discovery §3), so they are stated.
        request_parameter_supported=False,
        request_uri_parameter_supported=False,
        require_request_uri_registration=False,
        backchannel_logout_supported=True,
        backchannel_logout_session_supported=True,
        frontchannel_logout_supported=False,
        authorization_response_iss_parameter_supported=True,
        ui_locales_supported=["de"],
        claims_locales_supported=["de"],
    )


def _document(identity: Identity) -> Response:
    body = provider_metadata(identity).model_dump_json()
    return Response(body, media_type="application/json", headers={"Cache-Control": _CACHE_CONTROL})


@router.get(
    paths.OPENID_CONFIGURATION,
    summary="OpenID Connect Discovery 1.0: the provider's metadata",
    response_model=ProviderMetadata,
)
async def openid_configuration(identity: Annotated[Identity, Depends(get_identity)]) -> Response:
    """The OpenID Provider Metadata."""
    return _document(identity)


@router.get(
    paths.OAUTH_AUTHORIZATION_SERVER,
    summary="RFC 8414: the authorization server's metadata",
    response_model=ProviderMetadata,
)
async def authorization_server_metadata(identity: Annotated[Identity, Depends(get_identity)]) -> Response:
    """The Authorization Server Metadata of an issuer without a path."""
    return _document(identity)


@router.get(
    paths.OAUTH_AUTHORIZATION_SERVER + "/{issuer_path:path}",
    summary="RFC 8414 §3: the metadata of an issuer with a path",
    response_model=ProviderMetadata,
    responses=problem_responses(404),
)
async def authorization_server_metadata_for_path(
    identity: Annotated[Identity, Depends(get_identity)],
    issuer_path: Annotated[str, Path(max_length=512)],
) -> Response:
    """The metadata, if `issuer_path` is the issuer's path (``.../oauth-authorization-server/identity``)."""
    if issuer_path.strip("/") != urlsplit(identity.issuer).path.strip("/") or not issuer_path.strip("/"):
        raise ProblemError(404, "not-found", "Not Found", "No authorization server has this issuer path.")
    return _document(identity)
