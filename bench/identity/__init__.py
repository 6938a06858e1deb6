"""Benchmark of the identity service's token endpoint against Keycloak (``python -m bench.identity``)."""
