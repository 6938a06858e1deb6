"""The machinery every Basisdienste service shares: config, db, events, http, auth, telemetry, testing."""
