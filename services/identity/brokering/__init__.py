"""Brokering of upstream identity providers (OIDC; SAML through the same interface), as states do with BundID."""
