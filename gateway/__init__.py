"""The API gateway: the one entry point of the suite for portals and municipal IT providers."""
