"""Benchmark of the API gateway against nginx and against the upstream hit directly (``python -m bench.gateway``)."""
