"""OAuth error responses: the one place the suite answers without a problem document.

RFC 6749 §5.2 prescribes ``{"error", "error_description"}`` for the token endpoint, and RFC 7009 and
RFC 7662 reuse it for revocation and introspection; OAuth clients parse exactly that shape. A failed
client authentication is a 401 with a ``WWW-Authenticate`` challenge; everything else is a 400.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, get_args

from starlette.responses import Response

ErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",  # RFC 8707 §2
    "unsupported_token_type",  # RFC 7009 §2.2.1
]

#: Token responses hold credentials: no cache may keep them (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CLIENT_CHALLENGE = 'Basic realm="basisdienste", charset="UTF-8"'
#: RFC 6749 §5.2: error_description is printable ASCII without '"' and '\'.
_DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5B\x5D-\x7E]*")

#: OpenAPI of the error responses of the OAuth endpoints.
OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "enum": list(get_args(ErrorCode))},
        "error_description": {"type": "string"},
    },
}
OAUTH_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "OAuth error (RFC 6749 §5.2)",
        "content": {"application/json": {"schema": OAUTH_ERROR_SCHEMA}},
    },
    401: {
        "description": "Client authentication failed (invalid_client), with a WWW-Authenticate challenge",
        "content": {"application/json": {"schema": OAUTH_ERROR_SCHEMA}},
    },
}


class OAuthError(Exception):
    """An error the client is told about in the RFC 6749 §5.2 format."""

    def __init__(self, error: ErrorCode, description: str) -> None:
        if not _DESCRIPTION.fullmatch(description):
            raise ValueError("an error_description must be printable ASCII without quotes or backslashes")
        super().__init__(description)
        self.error = error
        self.description = description

    @property
    def status_code(self) -> int:
        """401 for a failed client authentication, 400 otherwise."""
        return 401 if self.error == "invalid_client" else 400

    def response(self) -> Response:
        """The JSON error response, with the challenge on 401."""
        headers = dict(NO_STORE)
        if self.status_code == 401:
            headers["WWW-Authenticate"] = CLIENT_CHALLENGE
        body = json.dumps({"error": self.error, "error_description": self.description})
        return Response(body, status_code=self.status_code, headers=headers, media_type="application/json")
