"""Developer tools run by the Makefile (not imported by any service)."""
