"""HTTP conventions every service shares: problem documents, request ids, body limits, cursor
pagination and idempotency keys. Import from the submodules (``kit.http.problems`` and so on)."""
