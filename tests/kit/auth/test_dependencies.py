"""The FastAPI dependencies over HTTP: 401 and 403 problems with RFC 6750 challenges, and OpenAPI."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from kit.auth import (
    AUTH_RESPONSES,
    Principal,
    TokenVerifier,
    create_verifier,
    install_auth,
    optional_principal,
    require_scopes,
)
from kit.auth.testing import TokenFactory
from kit.config import ServiceSettings
from kit.http import problems
from kit.http.problems import PROBLEM_MEDIA_TYPE, ProblemError, problem_type


def install_problem_rendering(app: FastAPI) -> None:
    """The kit's problem handlers where they exist, else just enough to render a ProblemError."""
    install = getattr(problems, "install_problem_handlers", None)
    if install is not None:
        install(app)
        return

    async def render(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ProblemError)
        return JSONResponse(
            error.to_dict(), status_code=error.status, headers=error.headers, media_type=PROBLEM_MEDIA_TYPE
        )

    app.add_exception_handler(ProblemError, render)


def create_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    install_problem_rendering(app)
    install_auth(app, verifier)

    @app.get("/payments", responses=AUTH_RESPONSES)
    async def list_payments(principal: Principal = Depends(require_scopes("payment:read"))) -> dict[str, Any]:
        return {"subject": principal.subject, "tenant": principal.tenant}

    @app.post("/refunds", responses=AUTH_RESPONSES)
    async def refund(
        principal: Principal = Depends(require_scopes("payment:read", "payment:refund")),
    ) -> dict[str, Any]:
        return {"subject": principal.subject}

    @app.get("/fees")
    async def fees(principal: Principal | None = Depends(optional_principal)) -> dict[str, Any]:
        return {"subject": principal.subject if principal else None}

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture
async def client(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://payment.test") as client:
        yield client


def challenge_params(response: httpx.Response) -> dict[str, str]:
    """The auth-params of a `Bearer` challenge, e.g. {"realm": "basisdienste", "error": "..."}."""
    challenge = response.headers["www-authenticate"]
    scheme, _, params = challenge.partition(" ")
    assert scheme == "Bearer"
    parsed = {}
    for param in params.split(", "):
        name, _, quoted = param.partition("=")
        assert quoted.startswith('"') and quoted.endswith('"'), challenge
        parsed[name] = quoted[1:-1]
    return parsed


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert body["type"] == problem_type(slug)
    assert body["status"] == status
    return body


async def test_valid_token_with_scope_reaches_the_route(tokens: TokenFactory, client: httpx.AsyncClient) -> None:
    response = await client.get("/payments", headers=tokens.auth_header(scopes=["payment:read"], tenant="st"))

    assert response.status_code == 200
    assert response.json() == {"subject": "user-1", "tenant": "st"}


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_scheme_is_case_insensitive(tokens: TokenFactory, client: httpx.AsyncClient, scheme: str) -> None:
    token = tokens.issue(scopes=["payment:read"])

    response = await client.get("/payments", headers={"Authorization": f"{scheme} {token}"})

    assert response.status_code == 200


async def test_no_token_gets_401_without_error_code(tokens: TokenFactory, client: httpx.AsyncClient) -> None:
    response = await client.get("/payments")

    body = assert_problem(response, 401, "invalid-token")
    assert challenge_params(response) == {"realm": "basisdienste"}
    assert body["detail"]
    assert tokens.jwks_requests == 0


async def test_other_auth_scheme_gets_401_without_error_code(client: httpx.AsyncClient) -> None:
    response = await client.get("/payments", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert_problem(response, 401, "invalid-token")
    assert challenge_params(response) == {"realm": "basisdienste"}


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Bearer a b", "Bearer a,b", 'Bearer "abc"', "Bearer abc.def.ghi", "Bearer \u00e4"],
)
async def test_bad_token_gets_401_invalid_token(client: httpx.AsyncClient, authorization: str) -> None:
    response = await client.get("/payments", headers=[(b"Authorization", authorization.encode())])

    body = assert_problem(response, 401, "invalid-token")
    params = challenge_params(response)
    assert params["realm"] == "basisdienste"
    assert params["error"] == "invalid_token"
    assert params["error_description"] == body["detail"]


async def test_two_authorization_headers_get_401(tokens: TokenFactory, client: httpx.AsyncClient) -> None:
    token = tokens.issue(scopes=["payment:read"])
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]

    response = await client.get("/payments", headers=headers)

    assert_problem(response, 401, "invalid-token")
    assert challenge_params(response)["error"] == "invalid_token"


async def test_expired_token_gets_401_saying_so(tokens: TokenFactory, client: httpx.AsyncClient) -> None:
    response = await client.get("/payments", headers=tokens.auth_header(scopes=["payment:read"], lifetime=-120))

    body = assert_problem(response, 401, "invalid-token")
    assert challenge_params(response)["error_description"] == "token has expired"
    assert body["detail"] == "token has expired"


async def test_rejection_tells_nothing_about_keys_or_internals(tokens: TokenFactory, client: httpx.AsyncClient) -> None:
    impostor = TokenFactory(issuer=tokens.issuer, audience=tokens.audience)
    forged = impostor.issue(scopes=["payment:read"], header={"kid": tokens.kid()})

    response = await client.get("/payments", headers={"Authorization": f"Bearer {forged}"})

    assert_problem(response, 401, "invalid-token")
    exposed = response.text + response.headers["www-authenticate"]
    published = tokens.jwks()["keys"][0]
    for secret_or_internal in [published["x"], published["y"], tokens.kid(), "joserfc", "Traceback", forged]:
        assert secret_or_internal not in exposed


async def test_missing_scope_gets_403_insufficient_scope(tokens: TokenFactory, client: httpx.AsyncClient) -> None:
    response = await client.post("/refunds", headers=tokens.auth_header(scopes=["payment:read"]))

    body = assert_problem(response, 403, "insufficient-scope")
    params = challenge_params(response)
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == "payment:read payment:refund"
    assert "payment:refund" in body["detail"]


async def test_all_required_scopes_pass(tokens: TokenFactory, client: httpx.AsyncClient) -> None:
    headers = tokens.auth_header(scopes=["payment:refund", "payment:read", "mailbox:read"])

    response = await client.post("/refunds", headers=headers)

    assert response.status_code == 200


async def test_token_for_another_audience_gets_401(tokens: TokenFactory, client: httpx.AsyncClient) -> None:
    response = await client.get("/payments", headers=tokens.auth_header(scopes=["payment:read"], audience="mailbox"))

    assert_problem(response, 401, "invalid-token")
    assert challenge_params(response)["error_description"] == "token audience does not include this service"


async def test_optional_principal(tokens: TokenFactory, client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/fees")
    known = await client.get("/fees", headers=tokens.auth_header(subject="citizen-7"))
    bad = await client.get("/fees", headers={"Authorization": "Bearer not.a.token"})

    assert anonymous.status_code == 200
    assert anonymous.json() == {"subject": None}
    assert known.json() == {"subject": "citizen-7"}
    assert_problem(bad, 401, "invalid-token")
    assert challenge_params(bad)["error"] == "invalid_token"


async def test_openapi_shows_bearer_auth_on_protected_routes(client: httpx.AsyncClient) -> None:
    openapi = (await client.get("/openapi.json")).json()

    assert openapi["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "OAuth 2.0 access token (RFC 9068 JWT) issued by the identity service.",
    }
    paths = openapi["paths"]
    assert paths["/payments"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/refunds"]["post"]["security"] == [{"bearerAuth": []}]
    assert paths["/fees"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in paths["/health/live"]["get"]
    assert {"401", "403"} <= set(paths["/payments"]["get"]["responses"])


async def test_routes_fail_loudly_without_install_auth(tokens: TokenFactory) -> None:
    app = FastAPI()

    @app.get("/payments")
    async def list_payments(principal: Principal = Depends(require_scopes("payment:read"))) -> str:
        return principal.subject

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        with pytest.raises(RuntimeError, match="install_auth"):
            await client.get("/payments", headers=tokens.auth_header(scopes=["payment:read"]))


@pytest.mark.parametrize("scope", ["", "two words", 'quote"', "back\\slash"])
def test_invalid_scope_names_are_refused(scope: str) -> None:
    with pytest.raises(ValueError):
        require_scopes(scope)


async def test_create_verifier_reads_the_settings(tokens: TokenFactory) -> None:
    settings = ServiceSettings(service_name="payment", identity_url="http://identity.test/")
    verifier = create_verifier(settings, tokens.http_client())

    assert verifier.issuer == "http://identity.test"
    assert verifier.audience == "payment"
    assert verifier.jwks.url == "http://identity.test/jwks"
    principal = await verifier.verify(tokens.issue("via-settings"))
    assert principal.subject == "via-settings"
