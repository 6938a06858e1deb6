"""Signing keys: stored encrypted in the identity database, rotated on a schedule, published at ``/jwks``.

A key is *next* (published, not signing yet), *current* (signing), *retired* (published until every
token it signed has expired) or *removed* (gone from the JWKS, its private part erased). The states
follow from timestamps on the key, so every replica switches to a new key at the same moment without
talking to the others.
"""
