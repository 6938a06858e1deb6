"""What the auth tests share besides fixtures: the trusted issuer, a clock the tests move, and
tokens put together by hand (for the shapes no honest issuer would sign)."""

import base64
import json
from typing import Any

ISSUER = "http://identity.test"
AUDIENCE = "payment"
MIN_REFRESH_INTERVAL = 30.0
MAX_AGE = 300.0


class FakeClock:
    """A monotonic clock that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def b64url(data: bytes | dict[str, Any] | list[Any] | str) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def compact(header: Any, claims: Any, signature: bytes = b"signature") -> str:
    """A compact JWS with whatever header, claims and signature a test wants."""
    return f"{b64url(header)}.{b64url(claims)}.{b64url(signature)}"
