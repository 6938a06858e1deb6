"""``python -m services.identity``: start the identity service (see ``--help``)."""

from kit.service import main
from services.identity.app import SPEC

main(SPEC)
