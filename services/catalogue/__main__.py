"""``python -m services.catalogue``: start the catalogue service (see ``--help``)."""

from kit.service import main
from services.catalogue.app import SPEC

main(SPEC)
