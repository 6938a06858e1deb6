"""Fixtures of the account tests: an SMTP sink the identity app delivers its e-mails to."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI

from kit.service import Role
from kit.testing import service_client
from services.identity.app import create_app
from tests.services.identity.support import ISSUER, identity_settings


class Inbox:
    """Every message the sink received, and a way to wait for the next one to an address."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    async def next_to(self, address: str, timeout: float = 10) -> Message:
        """The first message to `address` not taken yet."""
        for _ in range(int(timeout * 20)):
            for message in self.messages:
                if message["To"] == address:
                    self.messages.remove(message)
                    return message
            await asyncio.sleep(0.05)
        raise AssertionError(f"no mail to {address}")


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    """A real SMTP server on a free local port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port  # type: ignore[attr-defined]
    yield handler
    controller.stop()


@pytest.fixture(scope="module")
def app(identity_url: str, inbox: Inbox) -> FastAPI:
    """The identity app (API role, so the mail sender runs) delivering to the sink."""
    settings = identity_settings(identity_url, smtp_port=inbox.port, smtp_starttls=False)  # type: ignore[attr-defined]
    return create_app(settings, Role.API)


@pytest.fixture(scope="module")
async def client(app: FastAPI):
    async with service_client(app, base_url=ISSUER) as client:
        yield client
