"""``GET /jwks``: the public keys that verify this service's tokens (RFC 7517), next and retired ones included."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from kit.http.problems import ProblemError, problem_responses
from services.identity import paths
from services.identity.runtime import get_identity

router = APIRouter(tags=["keys"])


class PublicJwk(BaseModel):
    """One public signing key."""

    model_config = ConfigDict(extra="allow")

    kty: str = Field(description="EC or RSA.")
    kid: str = Field(description="Key id: the RFC 7638 thumbprint.")
    use: str = Field(description='Always "sig".')
    alg: str = Field(description="ES256 or RS256.")
    crv: str | None = None
    x: str | None = None
    y: str | None = None
    n: str | None = None
    e: str | None = None


class JsonWebKeySet(BaseModel):
    """The published keys, newest first."""

    keys: list[PublicJwk]


@router.get(
    paths.JWKS,
    summary="The public keys that verify the tokens of this issuer (JWKS)",
    response_model=JsonWebKeySet,
    responses={304: {"description": "Not modified (If-None-Match)."}, **problem_responses(503)},
)
async def jwks(
    request: Request,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match", max_length=256)] = None,
) -> Response:
    """The JWKS, cacheable for ``jwks_max_age`` seconds: keys are published long enough before they sign."""
    identity = get_identity(request)
    await identity.ring.wait_loaded()
    if not identity.ring.loaded.is_set():
        # An empty set would be cached by verifiers for the whole max-age: better no answer at all.
        raise ProblemError(
            503, "keys-not-loaded", "Keys not loaded", "Try again shortly.", headers={"Retry-After": "1"}
        )
    headers = {
        "Cache-Control": f"public, max-age={identity.settings.jwks_max_age}",
        "ETag": identity.ring.jwks_etag,
    }
    if if_none_match is not None and identity.ring.jwks_etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(identity.ring.jwks_body, headers=headers, media_type="application/json")
