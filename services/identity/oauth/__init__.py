"""The OAuth 2.0 endpoints at their standard paths: token (RFC 6749), introspection (RFC 7662) and
revocation (RFC 7009), with client authentication and RFC 9068 access tokens."""
