"""Tables of the routing service's own database (the kit adds outbox, inbox and idempotency keys)."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from kit.db import NAMING_CONVENTION


class Base(DeclarativeBase):
    """Declarative base of the routing service's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
