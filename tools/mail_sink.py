"""``python -m tools.mail_sink``: a development SMTP server on 127.0.0.1 that keeps every e-mail as a file.

``make run`` starts it and points identity at it, so registration and password reset links can be
followed on a machine without a mail server: each message lands in ``.run/mail/<time>-<recipient>.eml``
and its links are printed.
"""

from __future__ import annotations

import argparse
import re
import signal
import threading
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

_LINK = re.compile(r"https?://\S+")


class _Keeper:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        recipients = "+".join(re.sub(r"[^A-Za-z0-9@._-]", "_", r) for r in envelope.rcpt_tos)[:100]
        path = self.directory / f"{time.strftime('%Y%m%dT%H%M%S')}-{time.monotonic_ns() % 10**6}-{recipients}.eml"
        path.write_bytes(envelope.content)
        message = message_from_bytes(envelope.content)
        body = message.get_payload(decode=True)
        links = _LINK.findall(body.decode(errors="replace")) if isinstance(body, bytes) else []
        print(f"mail to {', '.join(envelope.rcpt_tos)}: {message['Subject']} {' '.join(links)}", flush=True)
        return "250 Message accepted"


def main() -> None:
    """Run until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--directory", type=Path, default=Path(".run/mail"))
    arguments = parser.parse_args()
    arguments.directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(_Keeper(arguments.directory), hostname="127.0.0.1", port=arguments.port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
