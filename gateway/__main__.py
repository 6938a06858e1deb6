"""``python -m gateway``: start the API gateway."""

import uvicorn

from gateway.app import create_app
from gateway.config import Settings

settings = Settings()
uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)
