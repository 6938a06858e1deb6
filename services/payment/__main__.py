"""``python -m services.payment``: start the payment service (see ``--help``)."""

from kit.service import main
from services.payment.app import SPEC

main(SPEC)
