"""Download patience settings: environment variables and the backoff schedule."""

from __future__ import annotations

import pytest

from animecli.errors import InvalidInputError
from animecli.weights.download import DownloadPolicy


def test_defaults_and_environment(monkeypatch):
    assert DownloadPolicy.from_env() == DownloadPolicy(timeout=30.0, retries=3)
    monkeypatch.setenv("ANIME_DOWNLOAD_TIMEOUT", "2.5")
    monkeypatch.setenv("ANIME_DOWNLOAD_RETRIES", "0")
    assert DownloadPolicy.from_env() == DownloadPolicy(timeout=2.5, retries=0)


@pytest.mark.parametrize("var, value", [("ANIME_DOWNLOAD_TIMEOUT", "0"), ("ANIME_DOWNLOAD_TIMEOUT", "soon"),
                                        ("ANIME_DOWNLOAD_RETRIES", "-1")])
def test_bad_values_are_clear_errors(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(InvalidInputError, match=f"{var}='{value}' is not a"):
        DownloadPolicy.from_env()


def test_backoff_doubles_and_is_capped():
    policy = DownloadPolicy(backoff=0.5, max_backoff=3.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
