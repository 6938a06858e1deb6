"""``python -m services.mailbox``: start the mailbox service (see ``--help``)."""

from kit.service import main
from services.mailbox.app import SPEC

main(SPEC)
