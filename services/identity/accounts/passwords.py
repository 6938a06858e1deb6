"""Password hashing with argon2id (RFC 9106), off the event loop.

Parameters: OWASP's recommended argon2id setting (m = 19 MiB, t = 2, p = 1), which keeps a verification
around 20 to 40 ms on one core — dear enough for offline guessing, cheap enough that a login burst does not
starve the service. Hashes made with other parameters are re-hashed at the next successful login.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MEMORY_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1
MIN_LENGTH = 10
MAX_LENGTH = 256

_hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM)
#: Verified against when the e-mail is unknown, so the answer takes as long as for a known one.
_DUMMY_HASH = _hasher.hash("not the password of anyone")


def password_problem(password: str, email: str | None) -> str | None:
    """Why `password` may not be used (German, for the form), or None. NIST SP 800-63B §5.1.1.2: length, not
    one repeated character, not the e-mail address; no composition rules."""
    if len(password) < MIN_LENGTH:
        return f"Das Passwort muss mindestens {MIN_LENGTH} Zeichen lang sein."
    if len(password) > MAX_LENGTH:
        return f"Das Passwort darf höchstens {MAX_LENGTH} Zeichen lang sein."
    if len(set(password)) == 1:
        return "Das Passwort darf nicht aus einem einzigen wiederholten Zeichen bestehen."
    if email is not None and password.casefold() == email.casefold():
        return "Das Passwort darf nicht Ihre E-Mail-Adresse sein."
    return None


async def hash_password(password: str) -> str:
    """The argon2id PHC string of `password`."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored`; with no stored hash, a dummy verification of equal cost."""
    if len(password) > MAX_LENGTH:
        return False
    return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    """Whether `stored` was made with other parameters than the current ones."""
    return _hasher.check_needs_rehash(stored)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
