"""What crosses service boundaries: event models, and the generated JSON Schemas, AsyncAPI and OpenAPI."""
