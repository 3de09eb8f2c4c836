"""Generator weights through the real download path: TF1 (two files) and PyTorch fixtures from a local
HTTP server, structural verification, conversion to our .ckpt, and ``--style`` equivalence."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from animecli import images
from animecli.errors import ChecksumMismatchError, DownloadError
from animecli.weights import cache, registry
from animecli.weights.convert import generator_params_from
from animecli.weights.download import DownloadPolicy
from animecli.weights.formats import read_tensors
from animecli.weights.formats.mindspore_ckpt import read_mindspore_ckpt
from tests.support.cli import run_anime
from tests.integration.weights_server import FixtureServer, Recorder, copy_with_flipped_byte

FAST = DownloadPolicy(timeout=2.0, retries=2, backoff=0.01)
TF_INDEX, TF_DATA = "/tf/Random-1.ckpt.index", "/tf/Random-1.ckpt.data-00000-of-00001"
PT = "/pt/random_generator_bl.pt"
H5 = "/vgg19.h5"


@pytest.fixture
def generator_fixtures(fixtures) -> Path:
    return fixtures / "generator"


@pytest.fixture
def server(generator_fixtures, shared):
    tf = generator_fixtures / "random_generator_tf"
    files = {TF_INDEX: tf / "Random-1.ckpt.index", TF_DATA: tf / "Random-1.ckpt.data-00000-of-00001",
             PT: generator_fixtures / "random_generator_bl.pt",
             H5: shared / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"}
    with FixtureServer(files) as srv:  # no `checkpoint` file is served: the two bundle files suffice
        yield srv


@pytest.fixture
def mirror(server, tmp_path, monkeypatch):
    """Hayao -> the TF fixture, face_paint_512_v2 -> the .pt fixture, paprika -> a file that is no .pt."""
    override = tmp_path / "registry.json"
    override.write_text(json.dumps({
        "Hayao": {"replace": True, "files": {
            "Hayao-99.ckpt.index": {"urls": [server.url(TF_INDEX)]},
            "Hayao-99.ckpt.data-00000-of-00001": {"urls": [server.url(TF_DATA)]}}},
        "face_paint_512_v2": {"urls": [server.url(PT)], "replace": True},
        "paprika": {"urls": [server.url(H5)], "replace": True},
    }))
    monkeypatch.setenv("ANIME_REGISTRY", str(override))
    return override


def _expected_params(path: Path):
    fmt, tensors = read_tensors(path)
    return generator_params_from(tensors, fmt)


def _assert_same_params(got, expected):
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name].dtype == np.float32
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_tf1_checkpoint_is_verified_and_converted(mirror, server, generator_fixtures, tmp_path):
    reporter = Recorder()
    path = cache.ensure_weights("hayao", cache_dir=tmp_path, policy=FAST, reporter=reporter)

    assert path == tmp_path / "weights" / "tf1" / "Hayao" / "Hayao.ckpt"
    tensors, metadata = read_mindspore_ckpt(path)
    _assert_same_params(tensors, _expected_params(generator_fixtures / "random_generator_tf" / "Random-1.ckpt.index"))
    assert metadata["name"] == "Hayao" and metadata["arch"] == "animeganv2-generator"
    assert (metadata["source_format"], metadata["upsample"], float(metadata["eps"])) == ("tf1", "tf", 1e-12)
    assert metadata["preprocessing"] == "" and metadata["licence"] == "non-commercial"
    assert server.url(TF_DATA) in metadata["source"]

    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert [(s["file"], s["checked"], s["kept"]) for s in manifest["sources"]] == [
        ("Hayao-99.ckpt.index", "structure", False), ("Hayao-99.ckpt.data-00000-of-00001", "structure", False)]
    assert sorted(p.name for p in path.parent.iterdir()) == [".lock", "Hayao.ckpt", "manifest.json"]
    assert cache.verify(registry.get("Hayao"), tmp_path) == []
    assert reporter.warnings == ["the Hayao weights are licensed for non-commercial use only"]
    tf = generator_fixtures / "random_generator_tf"
    sizes = [(tf / f"Random-1.ckpt.{suffix}").stat().st_size for suffix in ("index", "data-00000-of-00001")]
    assert reporter.starts == [("Hayao 1/2", sizes[0], "bytes"), ("Hayao 2/2", sizes[1], "bytes")]
    assert reporter.advanced == sum(sizes)  # totals from Content-Length: no size is published


def test_pytorch_file_with_keep_source(mirror, server, generator_fixtures, tmp_path):
    pt = generator_fixtures / "random_generator_bl.pt"
    path = cache.ensure_weights("face_paint_512_v2", cache_dir=tmp_path, policy=FAST, keep_source=True)

    tensors, metadata = read_mindspore_ckpt(path)
    _assert_same_params(tensors, _expected_params(pt))
    assert (metadata["source_format"], metadata["upsample"], float(metadata["eps"])) == ("torch", "align", 1e-5)
    assert metadata["preprocessing"] == "face_crop:512" and metadata["licence"] == "MIT"
    kept = path.parent / "source" / "face_paint_512_v2.pt"
    assert kept.read_bytes() == pt.read_bytes()
    state = cache.state(registry.get("face_paint_512_v2"), tmp_path)
    assert state.present and state.source_kept

    copy_with_flipped_byte(pt, kept, 1000)
    assert cache.verify(registry.get("face_paint_512_v2"), tmp_path) == [
        f"{kept} does not match the sha256 in the manifest"]


def test_keep_source_later_fetches_the_source_again(mirror, server, tmp_path):
    cache.ensure_weights("face_paint_512_v2", cache_dir=tmp_path, policy=FAST)
    assert not (tmp_path / "weights" / "torch" / "face_paint_512_v2" / "source").exists()
    cache.ensure_weights("face_paint_512_v2", cache_dir=tmp_path, policy=FAST, keep_source=True)
    assert (tmp_path / "weights" / "torch" / "face_paint_512_v2" / "source" / "face_paint_512_v2.pt").is_file()
    assert len(server.requests(PT)) == 2


def test_dropped_connection_on_the_tf_data_file_resumes(mirror, server, tmp_path, generator_fixtures):
    server.fault(TF_DATA, drop_at=3_000_000)
    path = cache.ensure_weights("Hayao", cache_dir=tmp_path, policy=FAST)
    assert [r.range for r in server.requests(TF_DATA)] == [None, "bytes=3000000-"]
    _assert_same_params(read_mindspore_ckpt(path)[0],
                        _expected_params(generator_fixtures / "random_generator_tf" / "Random-1.ckpt.index"))


def test_a_file_that_is_not_a_generator_fails_the_structural_check(mirror, server, tmp_path):
    with pytest.raises(DownloadError, match=r"paprika weights fetched from .*vgg19.h5 failed the structural check"):
        cache.ensure_weights("paprika", cache_dir=tmp_path, policy=FAST)
    folder = tmp_path / "weights" / "torch" / "paprika"
    assert sorted(p.name for p in folder.iterdir()) == [".lock"]


def test_truncated_tf_data_fails_the_structural_check(mirror, server, tmp_path, generator_fixtures):
    data = (generator_fixtures / "random_generator_tf" / "Random-1.ckpt.data-00000-of-00001").read_bytes()
    short = tmp_path / "short.data"
    short.write_bytes(data[: len(data) // 2])  # served whole, with its own (short) length
    server.state.files[TF_DATA] = short
    with pytest.raises(DownloadError, match="Hayao weights fetched from .* failed the structural check"):
        cache.ensure_weights("Hayao", cache_dir=tmp_path / "c", policy=FAST)
    assert sorted(p.name for p in (tmp_path / "c" / "weights" / "tf1" / "Hayao").iterdir()) == [".lock"]


@pytest.mark.parametrize("name, served, folder", [("Hayao", TF_DATA, "tf1/Hayao"),
                                                   ("face_paint_512_v2", PT, "torch/face_paint_512_v2")])
def test_corrupted_byte_without_a_published_hash_is_rejected(mirror, server, tmp_path, name, served, folder):
    """No hash is published, but the structural check reads every tensor and their CRCs catch the flip."""
    server.fault(served, corrupt_at=4_000_000)
    with pytest.raises(DownloadError, match=f"{name} weights fetched from .* failed the structural check .*corrupt"):
        cache.ensure_weights(name, cache_dir=tmp_path, policy=FAST)
    assert sorted(p.name for p in (tmp_path / "weights" / folder).iterdir()) == [".lock"]


def test_pinned_hash_rejects_a_corrupted_byte_in_float_data(server, tmp_path, monkeypatch, generator_fixtures):
    import hashlib

    pt = generator_fixtures / "random_generator_bl.pt"
    override = tmp_path / "registry.json"
    override.write_text(json.dumps({"face_paint_512_v2": {
        "urls": [server.url(PT)], "replace": True, "size": pt.stat().st_size,
        "sha256": hashlib.sha256(pt.read_bytes()).hexdigest()}}))
    monkeypatch.setenv("ANIME_REGISTRY", str(override))
    server.fault(PT, corrupt_at=pt.stat().st_size // 2)
    with pytest.raises(ChecksumMismatchError, match="face_paint_512_v2.pt from .* has sha256"):
        cache.ensure_weights("face_paint_512_v2", cache_dir=tmp_path, policy=FAST)
    folder = tmp_path / "weights" / "torch" / "face_paint_512_v2"
    assert sorted(p.name for p in folder.iterdir()) == [".lock"]


def test_style_resolution_equals_loading_the_fixture(mirror, server, generator_fixtures, tmp_path):
    from animecli.weights.resolve import load_generator_weights

    for style, fixture in (("Hayao", generator_fixtures / "random_generator_tf"),
                           ("face_paint_512_v2", generator_fixtures / "random_generator_bl.pt")):
        via_style = load_generator_weights(style=style, cache_dir=tmp_path)
        direct = load_generator_weights(weights=fixture)
        _assert_same_params(via_style.params, direct.params)
        assert (via_style.meta.upsample, via_style.meta.eps) == (direct.meta.upsample, direct.meta.eps)
        assert via_style.meta.name == style


@pytest.mark.slow
def test_infer_with_style_matches_infer_with_the_fixture_file(mirror, server, fixtures, tmp_path):
    """After a download through the real path, `--style Hayao` gives the same picture as `--weights <fixture>`."""
    photo = images.read_image(fixtures / "photos" / "chelsea.png")[:120, :160]
    images.write_image(tmp_path / "in.png", photo)
    home = Path(os.environ["ANIME_HOME"])

    styled = run_anime("infer", tmp_path / "in.png", tmp_path / "styled.png", "--style", "Hayao", "-q")
    assert styled.returncode == 0, styled.stderr
    assert (home / "weights" / "tf1" / "Hayao" / "Hayao.ckpt").is_file()
    direct = run_anime("infer", tmp_path / "in.png", tmp_path / "direct.png",
                       "--weights", fixtures / "generator" / "random_generator_tf", "-q")
    assert direct.returncode == 0, direct.stderr
    np.testing.assert_array_equal(images.read_image(tmp_path / "styled.png"),
                                  images.read_image(tmp_path / "direct.png"))
    assert len(server.requests(TF_DATA)) == 1
