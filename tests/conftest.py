"""Test setup: find ../shared (fail, never skip, when missing) and isolate caches per test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _find_shared() -> Path:
    explicit = os.environ.get("ANIME_SHARED")
    shared = Path(explicit) if explicit else PROJECT_ROOT.parent / "shared"
    if not (shared / "fixtures").is_dir():
        raise pytest.UsageError(
            f"reference fixtures not found at {shared} (set ANIME_SHARED or lay ../shared beside the project)"
        )
    return shared


SHARED = _find_shared()
FIXTURES = SHARED / "fixtures"


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


def run_anime(*args, cwd=None, env=None, timeout=600, input=None):
    """Run ``python -m animecli ARGS`` as a real subprocess; returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    # Set by runtime.prepare_environment() in this process for an earlier test's ANIME_HOME: the child
    # must derive them from its own.
    for var in ("GLOG_log_dir", "MS_COMPILER_CACHE_PATH"):
        full_env.pop(var, None)
    full_env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "animecli", *map(str, args)],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, input=input,
    )
