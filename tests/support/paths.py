"""Where the project and the shared reference data (``../shared`` or ``$ANIME_SHARED``) are."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def find_shared() -> Path:
    """The shared reference folder (it may be missing: conftest fails the run then)."""
    explicit = os.environ.get("ANIME_SHARED")
    return Path(explicit) if explicit else PROJECT_ROOT.parent / "shared"


SHARED = find_shared()
FIXTURES = SHARED / "fixtures"
