"""Fixtures shared by the download tests: the real VGG19 h5 served from 127.0.0.1 and a mirror file for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.weights_server import H5, FixtureServer


@pytest.fixture
def vgg_path(shared) -> Path:
    return shared / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"


@pytest.fixture
def server(vgg_path):
    with FixtureServer({H5: vgg_path}) as srv:
        yield srv


@pytest.fixture
def mirror(server, tmp_path, monkeypatch):
    """Point the vgg19 entry at the local server only (``replace``), as a user's mirror file would."""
    override = tmp_path / "registry.json"
    override.write_text(json.dumps({"vgg19": {"urls": [server.url(H5)], "replace": True}}))
    monkeypatch.setenv("ANIME_REGISTRY", str(override))
    return override
