"""The admin API of clients: ``/admin/clients``, scope ``identity:admin``, inside the caller's tenant only.

Another tenant's client ids are answered exactly like ids that do not exist (404). A secret is shown in
the response that creates or rotates it and never again; those responses are not idempotent-replayable
on purpose, since replaying would mean storing the secret.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Response
from sqlalchemy import select

from kit.auth import AUTH_RESPONSES, Principal, require_scopes
from kit.db import utcnow
from kit.http.pagination import Page, PageParams, paginate
from kit.http.problems import ProblemError, field_errors, problem_responses
from services.identity.clients import service
from services.identity.clients.models import Client
from services.identity.clients.schemas import ClientChanges, ClientSettings, ClientView, ClientWithSecret, NewSecret
from services.identity.runtime import Identity, get_identity

ADMIN_SCOPE = "identity:admin"

router = APIRouter(prefix="/admin/clients", tags=["clients"])

ClientId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The client's id.")]
_NO_STORE = {"Cache-Control": "no-store"}


class Admin:
    """The caller: an administrator of one tenant."""

    def __init__(self, principal: Annotated[Principal, Depends(require_scopes(ADMIN_SCOPE))]) -> None:
        if not principal.tenant:
            raise ProblemError(403, "no-tenant", "The token names no tenant", "Administrators act for a tenant.")
        self.tenant = principal.tenant


def _not_found() -> ProblemError:
    return ProblemError(404, "client-not-found", "Client not found", "The tenant has no client with this id.")


@router.post(
    "",
    status_code=201,
    summary="Register a client",
    response_model=ClientWithSecret,
    responses={**AUTH_RESPONSES, **problem_responses(400, 422)},
)
async def create_client(
    response: Response,
    settings: ClientSettings,
    admin: Annotated[Admin, Depends()],
    identity: Annotated[Identity, Depends(get_identity)],
) -> ClientWithSecret:
    """Register a client of the caller's tenant; the answer holds its secret, shown only this once."""
    async with identity.database.session() as session, session.begin():
        created = await service.register_client(session, admin.tenant, settings, identity.secrets, utcnow())
    response.headers.update(_NO_STORE)
    # From the issuer, the public base URL: behind the gateway the request's own URL lacks its prefix.
    response.headers["Location"] = identity.url(f"{router.prefix}/{created.client_id}")
    return created


@router.get(
    "",
    summary="List the tenant's clients",
    response_model=Page[ClientView],
    responses={**AUTH_RESPONSES, **problem_responses(400, 422)},
)
async def list_clients(
    admin: Annotated[Admin, Depends()],
    identity: Annotated[Identity, Depends(get_identity)],
    params: Annotated[PageParams, Depends()],
) -> Page[ClientView]:
    """The tenant's clients in the order of their ids."""
    async with identity.database.session() as session:
        return await paginate(
            session,
            select(Client).where(Client.tenant == admin.tenant),
            key_columns=[Client.client_id],
            params=params,
            to_item=lambda row: service.client_view(row[0]),
        )


@router.get(
    "/{client_id}",
    summary="Read a client",
    response_model=ClientView,
    responses={**AUTH_RESPONSES, **problem_responses(404, 422)},
)
async def read_client(
    client_id: ClientId,
    admin: Annotated[Admin, Depends()],
    identity: Annotated[Identity, Depends(get_identity)],
) -> ClientView:
    """One of the tenant's clients."""
    async with identity.database.session() as session:
        client = await service.find_client(session, admin.tenant, client_id)
        if client is None:
            raise _not_found()
        return service.client_view(client)


@router.patch(
    "/{client_id}",
    summary="Change a client's settings",
    response_model=ClientView,
    responses={**AUTH_RESPONSES, **problem_responses(404, 422)},
)
async def update_client(
    client_id: ClientId,
    changes: Annotated[ClientChanges, Body()],
    admin: Annotated[Admin, Depends()],
    identity: Annotated[Identity, Depends(get_identity)],
) -> ClientView:
    """Change the settings named in the body (null clears an optional one); the result must fit together."""
    async with identity.database.session() as session, session.begin():
        client = await service.find_client(session, admin.tenant, client_id, for_update=True)
        if client is None:
            raise _not_found()
        try:
            service.change_client(client, changes.model_dump(exclude_unset=True), utcnow())
        except service.ClientSettingsError as error:
            raise _invalid_settings(error) from error
        view = service.client_view(client)
    identity.clients.forget(client_id)
    return view


@router.delete(
    "/{client_id}",
    status_code=204,
    summary="Delete a client",
    response_class=Response,
    responses={**AUTH_RESPONSES, **problem_responses(404, 422)},
)
async def delete_client(
    client_id: ClientId,
    admin: Annotated[Admin, Depends()],
    identity: Annotated[Identity, Depends(get_identity)],
) -> Response:
    """Delete the client: it cannot get tokens any more (tokens it holds expire as usual)."""
    async with identity.database.session() as session, session.begin():
        if not await service.delete_client(session, admin.tenant, client_id):
            raise _not_found()
    identity.clients.forget(client_id)
    return Response(status_code=204)


@router.post(
    "/{client_id}/secret",
    summary="Rotate a client's secret",
    response_model=NewSecret,
    responses={**AUTH_RESPONSES, **problem_responses(404, 409, 422)},
)
async def rotate_client_secret(
    client_id: ClientId,
    response: Response,
    admin: Annotated[Admin, Depends()],
    identity: Annotated[Identity, Depends(get_identity)],
) -> NewSecret:
    """Issue a new secret, shown only in this answer; the old secret stops working at once."""
    async with identity.database.session() as session, session.begin():
        client = await service.find_client(session, admin.tenant, client_id, for_update=True)
        if client is None:
            raise _not_found()
        try:
            secret = service.rotate_secret(client, identity.secrets, utcnow())
        except service.SecretNotUsedError as error:
            raise ProblemError(
                409, "no-client-secret", "The client has no secret", "It authenticates without one."
            ) from error
        rotated_at = client.secret_rotated_at
    identity.clients.forget(client_id)
    response.headers.update(_NO_STORE)
    assert rotated_at is not None
    return NewSecret(client_id=client_id, client_secret=secret, secret_rotated_at=rotated_at)


def _invalid_settings(error: service.ClientSettingsError) -> ProblemError:
    errors = [{**entry, "pointer": "/body" + entry["pointer"]} for entry in field_errors(error.errors)]
    return ProblemError(
        422,
        "validation-failed",
        "Request validation failed",
        f"The changed settings have {len(errors)} invalid value(s).",
        extensions={"errors": errors},
    )
