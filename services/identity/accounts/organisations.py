"""Organisation accounts (Servicekonto for companies, associations, authorities): organisations with members
and roles. A member logged in can act for an organisation; tokens then say which, and with which role."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ForeignKey, LargeBinary, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kit.db import UTCDateTime, utcnow
from services.identity import paths
from services.identity.accounts.models import Account
from services.identity.audit import record_audit
from services.identity.mail.queue import queue_mail
from services.identity.models import Base
from services.identity.runtime import Identity

Role = Literal["owner", "admin", "member"]
ROLES: tuple[Role, ...] = ("owner", "admin", "member")
#: Roles that may invite, change roles and remove members.
MANAGING = frozenset({"owner", "admin"})
INVITATION_LIFETIME = dt.timedelta(days=7)


class Organisation(Base):
    """A company, association or other organisation."""

    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), comment="e.g. unternehmen, verein, behoerde")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Membership(Base):
    """A person's membership in an organisation, with a role."""

    __tablename__ = "memberships"

    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Invitation(Base):
    """An invitation sent by e-mail; only its SHA-256 is kept, it works once, for the invited address."""

    __tablename__ = "organisation_invitations"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OrganisationError(Exception):
    """A change the rules forbid (German message for the page)."""


@dataclass(frozen=True)
class MembershipView:
    """A membership as pages and tokens show it."""

    organisation_id: uuid.UUID
    organisation_name: str
    role: str


async def create_organisation(session: AsyncSession, account_id: uuid.UUID, name: str, kind: str) -> Organisation:
    """A new organisation with its creator as owner."""
    name = name.strip()
    if not 2 <= len(name) <= 200:
        raise OrganisationError("Der Name muss 2 bis 200 Zeichen lang sein.")
    organisation = Organisation(id=uuid.uuid4(), name=name, kind=kind[:32] or "unternehmen", created_at=utcnow())
    session.add(organisation)
    await session.flush()
    session.add(Membership(organisation_id=organisation.id, account_id=account_id, role="owner", joined_at=utcnow()))
    await record_audit(session, account_id, "organisation_created", organisation=str(organisation.id))
    return organisation


async def memberships(session: AsyncSession, account_id: uuid.UUID) -> list[MembershipView]:
    """The person's organisations."""
    query = (
        select(Membership.organisation_id, Organisation.name, Membership.role)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.account_id == account_id)
        .order_by(Organisation.name)
    )
    return [MembershipView(*row) for row in (await session.execute(query)).all()]


async def organisation_claim(
    session: AsyncSession, account_id: uuid.UUID, organisation_id: uuid.UUID
) -> dict[str, Any] | None:
    """The ``organisation`` claim of tokens: which organisation the person acts for and as what; None if the
    person is (no longer) a member."""
    for membership in await memberships(session, account_id):
        if membership.organisation_id == organisation_id:
            return {"id": str(organisation_id), "name": membership.organisation_name, "role": membership.role}
    return None


async def _role_of(session: AsyncSession, organisation_id: uuid.UUID, account_id: uuid.UUID) -> str | None:
    membership = await session.get(Membership, (organisation_id, account_id), with_for_update=True)
    return membership.role if membership is not None else None


async def invite(
    identity: Identity,
    session: AsyncSession,
    organisation_id: uuid.UUID,
    inviter_id: uuid.UUID,
    email: str,
    role: str,
) -> None:
    """Mail an invitation; only owners and admins invite, and only owners make owners."""
    inviter_role = await _role_of(session, organisation_id, inviter_id)
    if inviter_role not in MANAGING:
        raise OrganisationError("Nur Inhaber und Verwalter können einladen.")
    if role not in ROLES or (role == "owner" and inviter_role != "owner"):
        raise OrganisationError("Diese Rolle können Sie nicht vergeben.")
    token = secrets.token_urlsafe(32)
    session.add(
        Invitation(
            token_hash=hashlib.sha256(token.encode()).digest(),
            organisation_id=organisation_id,
            email=email.strip().lower(),
            role=role,
            expires_at=utcnow() + INVITATION_LIFETIME,
        )
    )
    organisation = await session.get(Organisation, organisation_id)
    assert organisation is not None
    await queue_mail(
        session,
        email.strip().lower(),
        f"Einladung in das Organisationskonto „{organisation.name}“",
        f"Sie wurden in das Organisationskonto „{organisation.name}“ eingeladen. Melden Sie sich mit dieser "
        f"E-Mail-Adresse an und nehmen Sie die Einladung an:\n\n"
        f"{identity.url(paths.ORGANISATION_JOIN)}?token={token}\n",
    )
    await record_audit(session, inviter_id, "organisation_invitation_sent", organisation=str(organisation_id))


async def accept(session: AsyncSession, token: str, account: Account) -> Organisation:
    """Join by an invitation, which must be for the person's own, verified address."""
    query = select(Invitation).where(Invitation.token_hash == hashlib.sha256(token.encode()).digest())
    invitation = (await session.scalars(query.with_for_update())).one_or_none()
    valid = invitation is not None and invitation.accepted_at is None and invitation.expires_at > utcnow()
    if not valid or invitation is None:
        raise OrganisationError("Die Einladung ist ungültig oder abgelaufen.")
    if account.email != invitation.email or account.email_verified_at is None:
        raise OrganisationError("Die Einladung gilt für eine andere E-Mail-Adresse.")
    invitation.accepted_at = utcnow()
    if await session.get(Membership, (invitation.organisation_id, account.id)) is None:
        session.add(
            Membership(
                organisation_id=invitation.organisation_id,
                account_id=account.id,
                role=invitation.role,
                joined_at=utcnow(),
            )
        )
    await record_audit(session, account.id, "organisation_joined", organisation=str(invitation.organisation_id))
    organisation = await session.get(Organisation, invitation.organisation_id)
    assert organisation is not None
    return organisation


async def change_role(
    session: AsyncSession, organisation_id: uuid.UUID, actor_id: uuid.UUID, member_id: uuid.UUID, role: str | None
) -> None:
    """Give a member another role, or remove them (`role` None). Members may remove themselves; the last owner
    can neither leave nor be demoted, so an organisation never ends up without one."""
    actor_role = await _role_of(session, organisation_id, actor_id)
    member = await session.get(Membership, (organisation_id, member_id), with_for_update=True)
    if actor_role is None or member is None:
        raise OrganisationError("Unbekannte Mitgliedschaft.")
    leaving_self = role is None and actor_id == member_id
    if not leaving_self and (actor_role not in MANAGING or (member.role == "owner" and actor_role != "owner")):
        raise OrganisationError("Dazu fehlt Ihnen die Berechtigung.")
    if role is not None and (role not in ROLES or (role == "owner" and actor_role != "owner")):
        raise OrganisationError("Diese Rolle können Sie nicht vergeben.")
    if member.role == "owner" and role != "owner":
        owners = await session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.organisation_id == organisation_id, Membership.role == "owner")
        )
        if owners == 1:
            raise OrganisationError("Die Organisation braucht mindestens einen Inhaber.")
    if role is None:
        await session.delete(member)
    else:
        member.role = role
    await record_audit(session, actor_id, "organisation_member_changed", organisation=str(organisation_id))
