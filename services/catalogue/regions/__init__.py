"""Regions of the ARS hierarchy (Land, Regierungsbezirk, Kreis, Gemeindeverband, Gemeinde), their
history, the importer of the municipality register GV100AD and of the postal-code assignment, the
in-memory directory other modules look regions up in, and the public regions API.
"""
