"""Where the importers find the public files: ``CATALOGUE_DATA_DIR``, by default ``../shared/data``
beside the checkout (see its README.md)."""

import os
from pathlib import Path

_BESIDE_THE_CHECKOUT = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def data_dir() -> Path:
    """The folder of the public data files."""
    return Path(os.environ.get("CATALOGUE_DATA_DIR", _BESIDE_THE_CHECKOUT))
