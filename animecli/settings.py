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


def download_timeout() -> float:
    """Seconds a weights download may wait on the network at a time (``ANIME_DOWNLOAD_TIMEOUT``, default 30)."""
    return _positive_number("ANIME_DOWNLOAD_TIMEOUT", 30.0)


def download_retries() -> int:
    """Retries after a failed download attempt, per URL (``ANIME_DOWNLOAD_RETRIES``, default 3)."""
    return int(_positive_number("ANIME_DOWNLOAD_RETRIES", 3, allow_zero=True))


def _positive_number(var: str, default: float, allow_zero: bool = False) -> float:
    value = os.environ.get(var, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number < 0 or (number == 0 and not allow_zero):
        from animecli.errors import InvalidInputError

        raise InvalidInputError(f"{var}={value!r} is not a {'non-negative' if allow_zero else 'positive'} number")
    return number
