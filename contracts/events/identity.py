"""Events of the identity service about accounts (topic ``identity.account``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar, Literal

from pydantic import Field

from contracts.events.base import Event

AccountKind = Literal["citizen", "organisation"]
Vertrauensniveau = Literal["niedrig", "substanziell", "hoch"]


class AccountEvent(Event):
    """Common fields of the account events."""

    topic: ClassVar[str] = "identity.account"
    key_field: ClassVar[str] = "account_id"

    account_id: uuid.UUID = Field(description="The account (Nutzerkonto/Servicekonto).")
    occurred_at: dt.datetime = Field(description="When it happened (UTC).")


class AccountCreated(AccountEvent):
    """A citizen or organisation account was created."""

    event_type: ClassVar[str] = "de.basisdienste.identity.account.created.v1"

    kind: AccountKind
    postbox_reference: str = Field(description="Pseudonymous reference of the account's postbox.")


class AccountVerified(AccountEvent):
    """The account's e-mail address was confirmed by the link sent to it."""

    event_type: ClassVar[str] = "de.basisdienste.identity.account.verified.v1"


class AccountDeleted(AccountEvent):
    """An account was deleted: every service deletes what it holds about it."""

    event_type: ClassVar[str] = "de.basisdienste.identity.account.deleted.v1"

    postbox_reference: str = Field(description="Pseudonymous reference of the account's postbox.")


class TrustLevelRaised(AccountEvent):
    """An account's trust level (Vertrauensniveau, TR-03107) went up, e.g. after an eID login."""

    event_type: ClassVar[str] = "de.basisdienste.identity.account.trust_level_raised.v1"

    vertrauensniveau: Vertrauensniveau
