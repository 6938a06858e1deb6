"""Test support for every service: real Kafka and PostgreSQL, fresh databases, ASGI clients, and a
watcher that awaits events on a topic. The pytest fixtures live in :mod:`kit.testing.fixtures`."""

from kit.testing.infrastructure import LocalInfrastructure, repository_root
from kit.testing.service_client import service_client
from kit.testing.topic_watcher import TopicWatcher

__all__ = ["LocalInfrastructure", "TopicWatcher", "repository_root", "service_client"]
