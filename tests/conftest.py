"""Test setup: fail (never skip) when ../shared is missing, and isolate caches per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import FIXTURES, SHARED

if not FIXTURES.is_dir():
    raise pytest.UsageError(
        f"reference fixtures not found at {SHARED} (set ANIME_SHARED or lay ../shared beside the project)"
    )


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared reference folder (SPEC, fixtures, weights)."""
    return SHARED


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """``shared/fixtures``."""
    return FIXTURES


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """Point the cache at a fresh folder and clear switches a developer may have set."""
    home = tmp_path_factory.mktemp("anime_home")
    monkeypatch.setenv("ANIME_HOME", str(home))
    for var in ("ANIME_OFFLINE", "ANIME_REGISTRY", "ANIME_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    yield
