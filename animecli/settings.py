"""Environment settings, read when asked (never at import time)."""

from __future__ import annotations

import os
from pathlib import Path


def anime_home() -> Path:
    """Cache root: ``$ANIME_HOME``, else ``$XDG_CACHE_HOME/animecli``, else ``~/.cache/animecli``."""
    explicit = os.environ.get("ANIME_HOME")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "animecli"


def offline() -> bool:
    """True when ``ANIME_OFFLINE`` is set to a true value (1, true, yes)."""
    return os.environ.get("ANIME_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def debug() -> bool:
    """True when ``ANIME_DEBUG`` asks for full tracebacks."""
    return os.environ.get("ANIME_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


def registry_override() -> Path | None:
    """Path of a JSON file that adds mirrors / overrides URLs of named weights (``ANIME_REGISTRY``)."""
    value = os.environ.get("ANIME_REGISTRY")
    return Path(value).expanduser() if value else None
