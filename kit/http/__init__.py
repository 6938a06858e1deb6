"""HTTP conventions every service shares: problem documents, idempotency, pagination, request ids."""
