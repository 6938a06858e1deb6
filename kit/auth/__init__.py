"""Access-token checks every service runs itself, behind the gateway too (see ARCHITECTURE, Security).

- :mod:`kit.auth.jwks`: the issuer's signing keys, cached with bounded refreshes.
- :mod:`kit.auth.tokens`: RFC 9068 access-token verification into a :class:`Principal`.
- :mod:`kit.auth.dependencies`: FastAPI dependencies and RFC 6750 errors.
- :mod:`kit.auth.testing`: a stand-in issuer for test suites (not imported here).
"""

from kit.auth.dependencies import (
    AUTH_RESPONSES,
    bearer_scheme,
    caller_scope,
    create_verifier,
    install_auth,
    optional_principal,
    require_scopes,
)
from kit.auth.jwks import JwksCache
from kit.auth.tokens import Principal, TokenError, TokenVerifier

__all__ = [
    "AUTH_RESPONSES",
    "JwksCache",
    "Principal",
    "TokenError",
    "TokenVerifier",
    "bearer_scheme",
    "caller_scope",
    "create_verifier",
    "install_auth",
    "optional_principal",
    "require_scopes",
]
