"""OpenID Connect: the authorization endpoint, codes with PKCE, ID tokens, refresh tokens, consent, userinfo
and logout (RP-initiated and back-channel)."""
