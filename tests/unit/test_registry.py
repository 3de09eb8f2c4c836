"""The named-weights registry: every entry is valid, lookups, and the ANIME_REGISTRY mirror file."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from animecli.errors import InvalidInputError, UnknownWeightsError
from animecli.weights import registry

SPEC_NAMES = ["Hayao", "Paprika", "Shinkai", "face_paint_512_v2", "face_paint_512_v1", "celeba_distill",
              "paprika", "vgg19"]


def test_table_holds_the_spec_weights():
    assert [e.name for e in registry.entries()] == SPEC_NAMES
    assert registry.get(registry.DEFAULT_STYLE).name == "Hayao"


@pytest.mark.parametrize("entry", registry.entries(), ids=lambda e: e.name)
def test_every_entry_is_valid(entry):
    assert dataclasses.is_dataclass(entry) and entry.description and entry.licence and entry.source
    assert entry.files and all(f.urls for f in entry.files)
    for wfile in entry.files:
        assert all(u.startswith("https://") and u.endswith(wfile.filename.split("/")[-1]) for u in wfile.urls)
        assert wfile.sha256 is None or len(wfile.sha256) == 64
    if entry.kind == "generator":
        assert entry.source_format in ("tf1", "torch")
        assert (entry.upsample, entry.eps) == {"tf1": ("tf", 1e-12), "torch": ("align", 1e-5)}[entry.source_format]
    else:
        assert (entry.kind, entry.source_format, entry.upsample) == ("vgg19", "keras_h5", None)
        assert entry.files[0].has_hash and entry.known_size == 80_134_624


def test_tf_entries_fetch_index_and_data_from_the_original_repo():
    hayao = registry.get("Hayao")
    assert [f.filename for f in hayao.files] == ["Hayao-99.ckpt.index", "Hayao-99.ckpt.data-00000-of-00001"]
    assert hayao.main_file.filename == "Hayao-99.ckpt.index"
    assert hayao.files[1].urls == ("https://github.com/TachibanaYoshino/AnimeGANv2/raw/master/checkpoint/"
                                   "generator_Hayao_weight/Hayao-99.ckpt.data-00000-of-00001",)
    assert registry.get("Paprika").files[0].filename == "Paprika-54.ckpt.index"
    assert registry.get("Shinkai").files[0].filename == "Shinkai-53.ckpt.index"
    assert hayao.licence == "non-commercial"


def test_face_models_declare_their_crop():
    assert registry.get("face_paint_512_v2").preprocessing.to_metadata() == "face_crop:512"
    assert registry.get("celeba_distill").preprocessing.to_metadata() == "face_crop:256"
    assert registry.get("paprika").preprocessing.to_metadata() == ""
    assert registry.get("face_paint_512_v1").files[0].urls == (
        "https://github.com/bryandlee/animegan2-pytorch/raw/main/weights/face_paint_512_v1.pt",)


def test_vgg19_hashes_match_the_real_file(shared):
    wfile = registry.get("vgg19").files[0]
    data = (shared / "weights" / wfile.filename).read_bytes()
    assert len(data) == wfile.size
    assert hashlib.sha256(data).hexdigest() == wfile.sha256
    assert hashlib.md5(data).hexdigest() == wfile.md5 == "253f8cb515780f3b799900260a226db6"


def test_names_are_case_insensitive_unless_ambiguous():
    assert registry.get("hayao").name == "Hayao"
    assert registry.get("SHINKAI").name == "Shinkai"
    assert registry.get("Paprika").source_format == "tf1"
    assert registry.get("paprika").source_format == "torch"
    with pytest.raises(UnknownWeightsError, match="ambiguous weights name 'PAPRIKA': Paprika .* or paprika"):
        registry.get("PAPRIKA")
    with pytest.raises(UnknownWeightsError, match=r"unknown weights 'Ghibli'; known: Hayao, Paprika, .*vgg19$"):
        registry.get("Ghibli")


def _override(tmp_path, monkeypatch, data) -> None:
    path = tmp_path / "mirrors.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    monkeypatch.setenv("ANIME_REGISTRY", str(path))


def test_override_prepends_mirrors(tmp_path, monkeypatch):
    _override(tmp_path, monkeypatch, {"face_paint_512_v2": {"urls": ["https://mirror.example/fp2.pt"]}})
    wfile = registry.get("face_paint_512_v2").files[0]
    assert wfile.urls == ("https://mirror.example/fp2.pt",
                          "https://github.com/bryandlee/animegan2-pytorch/raw/main/weights/face_paint_512_v2.pt")
    assert registry.get("Hayao") == registry._BUILTIN[0]


def test_override_replaces_urls_and_pins_hashes_per_file(tmp_path, monkeypatch):
    sha = "ab" * 32
    _override(tmp_path, monkeypatch, {"hayao": {"replace": True, "files": {
        "Hayao-99.ckpt.index": {"urls": ["http://127.0.0.1:1/i"], "size": 10, "sha256": sha.upper()},
        "Hayao-99.ckpt.data-00000-of-00001": {"urls": "file:///srv/d"}}}})
    index, data = registry.get("Hayao").files
    assert (index.urls, index.size, index.sha256) == (("http://127.0.0.1:1/i",), 10, sha)
    assert data.urls == ("file:///srv/d",) and data.sha256 is None


def test_new_sha256_drops_the_builtin_md5(tmp_path, monkeypatch):
    _override(tmp_path, monkeypatch, {"vgg19": {"urls": ["http://127.0.0.1:1/v.h5"], "sha256": "0" * 64}})
    wfile = registry.get("vgg19").files[0]
    assert (wfile.sha256, wfile.md5, wfile.size) == ("0" * 64, None, 80_134_624)


@pytest.mark.parametrize("data, message", [
    ("{not json", "is not valid JSON"),
    ({"Ghibli": {"urls": ["https://x/y"]}}, "unknown weights 'Ghibli'"),
    ({"Hayao": {"urls": ["https://x/y"]}}, "has several files; give them under 'files'"),
    ({"vgg19": {"urls": ["ftp://x/y"]}}, "urls must be http"),
    ({"vgg19": {"sha256": "xyz"}}, "sha256 must be 64 hex digits"),
    ({"vgg19": {"replace": True}}, "'replace' needs at least one URL"),
    ({"vgg19": {"url": "https://x"}}, "expected an object"),
    ({"Hayao": {"files": {"other.bin": {"urls": ["https://x"]}}}}, "no file 'other.bin'"),
])
def test_bad_override_files_are_clear_errors(tmp_path, monkeypatch, data, message):
    _override(tmp_path, monkeypatch, data)
    with pytest.raises(InvalidInputError, match="ANIME_REGISTRY file .*mirrors.json") as info:
        registry.entries()
    assert message in str(info.value)


def test_missing_override_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ANIME_REGISTRY", str(tmp_path / "absent.json"))
    with pytest.raises(InvalidInputError, match="absent.json cannot be read"):
        registry.get("Hayao")
