"""Fixtures for the whole suite: real Kafka and PostgreSQL from deploy/local (see kit.testing)."""

pytest_plugins = ["kit.testing.fixtures"]
