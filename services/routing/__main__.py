"""``python -m services.routing``: start the routing service (see ``--help``)."""

from kit.service import main
from services.routing.app import SPEC

main(SPEC)
