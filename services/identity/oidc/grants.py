"""The user grants of the token endpoint: authorization code (RFC 6749 §4.1.3 with PKCE, RFC 7636 §4.6) and
refresh token (§6). Both end in a :class:`TokenSet`: an RFC 9068 access token, an ID token for OpenID
requests (Core §3.1.3.3) and a rotating refresh token where the client may have one."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import utcnow
from services.identity.accounts.organisations import organisation_claim
from services.identity.clients.directory import RegisteredClient
from services.identity.login.session import LoginSession, session_is_active
from services.identity.oauth.access_tokens import AccessTokenRequest, issue_access_token
from services.identity.oauth.errors import OAuthError
from services.identity.oauth.forms import Form
from services.identity.oidc import refresh_tokens
from services.identity.oidc.authorization import AuthorizationRequest
from services.identity.oidc.models import AuthorizationCode
from services.identity.oidc.subjects import remember_subject
from services.identity.runtime import Identity

ID_TOKEN_TYPE = "JWT"  # noqa: S105 - the typ of ID tokens
_VERIFIER_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint returns for a user grant."""

    access_token: str
    expires_in: int
    scopes: Sequence[str]
    id_token: str | None
    refresh_token: str | None

    def body(self) -> dict[str, Any]:
        """The JSON of the token response (RFC 6749 §5.1, Core §3.1.3.3)."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": " ".join(self.scopes),
        }
        if self.id_token is not None:
            body["id_token"] = self.id_token
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


def _code_hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


async def issue_code(
    identity: Identity, session: AsyncSession, request: AuthorizationRequest, login: LoginSession
) -> str:
    """A single-use code for `request`, bound to the client, redirect URI, PKCE challenge and login."""
    code = secrets.token_urlsafe(32)
    session.add(
        AuthorizationCode(
            code_hash=_code_hash(code),
            client_id=request.client.client_id,
            account_id=login.account_id,
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
            nonce=request.nonce,
            sid=login.sid,
            acr=login.acr,
            amr=list(login.amr),
            auth_time=login.auth_time,
            scopes=list(request.scopes),
            organisation_id=login.organisation_id,
            expires_at=utcnow() + dt.timedelta(seconds=identity.settings.authorization_code_lifetime),
        )
    )
    return code


async def redeem_code(identity: Identity, session: AsyncSession, client: RegisteredClient, form: Form) -> TokenSet:
    """Exchange a code for tokens. A code presented a second time revokes what the first exchange issued."""
    if "authorization_code" not in client.grant_types:
        raise OAuthError("unauthorized_client", "the client may not use the authorization code grant")
    code, verifier, redirect_uri = form.get("code"), form.get("code_verifier"), form.get("redirect_uri")
    if code is None or len(code) > 256:
        raise OAuthError("invalid_request", "code is required")
    query = select(AuthorizationCode).where(AuthorizationCode.code_hash == _code_hash(code)).with_for_update()
    row = (await session.scalars(query)).one_or_none()
    now = utcnow()
    if row is None or row.client_id != client.client_id or row.expires_at <= now:
        raise OAuthError("invalid_grant", "the code is invalid or expired")
    if row.redeemed_at is not None:
        # RFC 6749 §4.1.2: a code used twice was intercepted; revoke what it gave.
        if row.refresh_family is not None:
            await refresh_tokens.revoke_family(session, row.refresh_family)
        raise OAuthError("invalid_grant", "the code was used already")
    if redirect_uri != row.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
    if not _verifier_matches(verifier, row.code_challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    row.redeemed_at = now
    organisation = await _organisation(session, row.account_id, row.organisation_id)
    tokens = _issue(
        identity,
        client,
        subject=await remember_subject(identity, session, client, row.account_id),
        scopes=row.scopes,
        acr=row.acr,
        amr=row.amr,
        auth_time=row.auth_time,
        sid=row.sid,
        nonce=row.nonce,
        with_id_token="openid" in row.scopes,
        organisation=organisation,
    )
    refresh_value = None
    if "refresh_token" in client.grant_types:
        family = uuid.uuid4()
        token = refresh_tokens.new_token(
            family=family,
            client_id=client.client_id,
            tenant=client.tenant,
            account_id=row.account_id,
            sid=None if "offline_access" in row.scopes else row.sid,
            scopes=row.scopes,
            acr=row.acr,
            amr=row.amr,
            auth_time=row.auth_time,
            expires_at=now + identity.settings.refresh_token_lifetime,
            organisation_id=row.organisation_id,
        )
        session.add(token)
        row.refresh_family = family
        refresh_value = refresh_tokens.token_value(identity, token.id)
    return TokenSet(tokens.access_token, tokens.expires_in, row.scopes, tokens.id_token, refresh_value)


async def refresh(identity: Identity, session: AsyncSession, client: RegisteredClient, form: Form) -> TokenSet:
    """Rotate a refresh token and issue a new access token (and ID token) with the original acr and auth_time."""
    if "refresh_token" not in client.grant_types:
        raise OAuthError("unauthorized_client", "the client may not use the refresh token grant")
    value = form.get("refresh_token")
    if value is None:
        raise OAuthError("invalid_request", "refresh_token is required")
    try:
        grant = await refresh_tokens.rotate(
            identity, session, value, client.client_id, identity.settings.refresh_token_lifetime
        )
    except refresh_tokens.RefreshTokenError as error:
        raise OAuthError("invalid_grant", str(error)) from error
    token = grant.token
    if token.sid is not None and not await session_is_active(session, token.sid):
        raise OAuthError("invalid_grant", "the login session of the refresh token has ended")
    scopes = token.scopes
    if requested := form.get("scope"):
        narrowed = requested.split()
        if not set(narrowed) <= set(scopes):
            raise OAuthError("invalid_scope", "a refresh may not widen the scope")
        scopes = narrowed
    organisation = await _organisation(session, token.account_id, token.organisation_id)
    tokens = _issue(
        identity,
        client,
        subject=await remember_subject(identity, session, client, token.account_id),
        scopes=scopes,
        acr=token.acr,
        amr=token.amr,
        auth_time=token.auth_time,
        sid=token.sid,
        nonce=None,
        with_id_token="openid" in scopes,
        organisation=organisation,
    )
    return TokenSet(tokens.access_token, tokens.expires_in, scopes, tokens.id_token, grant.value)


async def _organisation(
    session: AsyncSession, account_id: uuid.UUID, organisation_id: uuid.UUID | None
) -> dict[str, Any] | None:
    """Whom the person acts for, checked again now: a membership ended since the login no longer counts."""
    return await organisation_claim(session, account_id, organisation_id) if organisation_id else None


def _verifier_matches(verifier: str | None, challenge: str | None) -> bool:
    # RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
    if challenge is None or verifier is None or not 43 <= len(verifier) <= 128:
        return False
    if not set(verifier) <= _VERIFIER_CHARACTERS:
        return False
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return hmac.compare_digest(digest, challenge)


@dataclass(frozen=True)
class _Issued:
    access_token: str
    expires_in: int
    id_token: str | None


def _issue(
    identity: Identity,
    client: RegisteredClient,
    *,
    subject: str,
    scopes: Sequence[str],
    acr: str,
    amr: Sequence[str],
    auth_time: dt.datetime,
    sid: str | None,
    nonce: str | None,
    with_id_token: bool,
    organisation: dict[str, Any] | None,
) -> _Issued:
    extra: dict[str, Any] = {"auth_time": int(auth_time.timestamp())}
    if organisation is not None:
        extra["organisation"] = organisation
    lifetime = client.access_token_lifetime or identity.settings.access_token_lifetime
    access_token = issue_access_token(
        identity.ring,
        identity.issuer,
        AccessTokenRequest(
            subject=subject,
            client_id=client.client_id,
            tenant=client.tenant,
            audiences=client.audiences or (identity.issuer,),
            scopes=scopes,
            lifetime=lifetime,
            acr=acr,
            extra=extra,
        ),
    )
    id_token = None
    if with_id_token:
        id_token = _id_token(identity, client, subject, access_token, acr, amr, auth_time, sid, nonce, organisation)
    return _Issued(access_token, lifetime, id_token)


def _id_token(
    identity: Identity,
    client: RegisteredClient,
    subject: str,
    access_token: str,
    acr: str,
    amr: Sequence[str],
    auth_time: dt.datetime,
    sid: str | None,
    nonce: str | None,
    organisation: dict[str, Any] | None,
) -> str:
    """An ID token (Core §2) with ``at_hash`` binding the access token issued with it (§3.1.3.6)."""
    now = int(time.time())
    # ES256 and RS256 both hash with SHA-256: at_hash is the base64url of its left half.
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    claims: dict[str, Any] = {
        "iss": identity.issuer,
        "sub": subject,
        "aud": client.client_id,
        "azp": client.client_id,
        "exp": now + (client.id_token_lifetime or identity.settings.id_token_lifetime),
        "iat": now,
        "auth_time": int(auth_time.timestamp()),
        "acr": acr,
        "amr": list(amr),
        "at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode(),
    }
    if sid is not None:
        claims["sid"] = sid
    if nonce is not None:
        claims["nonce"] = nonce
    if organisation is not None:
        claims["organisation"] = organisation
    return identity.ring.signer(at=time.time()).sign(claims, typ=ID_TOKEN_TYPE)
