"""Benchmarks of the catalogue service: search quality and speed against plain PostgreSQL."""
