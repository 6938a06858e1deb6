"""The basic services, each an independent FastAPI service with its own database."""
