"""Test setup: fail (never skip) when ../shared is missing, and isolate caches per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import FIXTURES, SHARED

if not FIXTURES.is_dir():
    raise pytest.UsageError(
        f"reference fixtures not found at {SHARED} (set ANIME_SHARED or lay ../shared beside the project)"
    )


#: Environment switches of animecli that tests must not inherit from a developer's shell.
SWITCHES = ("ANIME_OFFLINE", "ANIME_REGISTRY", "ANIME_DEBUG")


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared reference folder (SPEC, fixtures, weights)."""
    return SHARED


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """``shared/fixtures``."""
    return FIXTURES


@pytest.fixture(scope="session", autouse=True)
def _session_home(tmp_path_factory):
    """The environment of what runs outside a test's own (module fixtures' ``anime`` runs): a cache of the
    session's, never the developer's ``~/.cache/animecli`` (its stored graphs and kernels would make
    results depend on its history), and none of the switches a developer may have set."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ANIME_HOME", str(tmp_path_factory.mktemp("session_home")))
        for var in SWITCHES:
            patch.delenv(var, raising=False)
        yield


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """Point the cache at a fresh folder and clear switches a developer may have set."""
    home = tmp_path_factory.mktemp("anime_home")
    monkeypatch.setenv("ANIME_HOME", str(home))
    for var in SWITCHES:
        monkeypatch.delenv(var, raising=False)
    yield
