"""Importers of the catalogue: parsers that turn the real source files into content records."""
