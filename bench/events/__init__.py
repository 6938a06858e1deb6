"""Benchmark of the event machinery: outbox relay vs. raw aiokafka, and commit-to-handler latency."""
