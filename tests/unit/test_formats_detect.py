"""Format detection by content, and read_tensors dispatching to the right reader."""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pytest

from animecli.errors import CheckpointFormatError, InvalidInputError
from animecli.weights.formats import detect_format, read_tensors
from animecli.weights.formats.mindspore_ckpt import write_mindspore_ckpt
from animecli.weights.formats.torch_pt import LEGACY_MAGIC

UNKNOWN = "not a recognised checkpoint (expected a MindSpore .ckpt, a PyTorch .pt, a TF1 checkpoint or a Keras .h5)"


@pytest.fixture()
def generator(fixtures):
    return fixtures / "generator"


def test_fixtures_are_recognised(generator, shared):
    tf_dir = generator / "random_generator_tf"
    assert detect_format(generator / "random_generator_bl.pt") == "torch"
    for form in (tf_dir, tf_dir / "Random-1.ckpt", tf_dir / "Random-1.ckpt.index",
                 tf_dir / "Random-1.ckpt.data-00000-of-00001", tf_dir / "checkpoint"):
        assert detect_format(form) == "tf1", form
    assert detect_format(shared / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5") == "keras_h5"


def test_content_not_the_name_decides(generator, tmp_path):
    pt_named_bin = tmp_path / "weights.bin"
    shutil.copy(generator / "random_generator_bl.pt", pt_named_bin)
    fmt, tensors = read_tensors(pt_named_bin)
    assert fmt == "torch" and len(tensors) == 77

    ckpt_named_pt = tmp_path / "actually_mindspore.pt"
    write_mindspore_ckpt(ckpt_named_pt, {"w": np.arange(4, dtype=np.float32)}, {"k": "v"})
    fmt, tensors = read_tensors(ckpt_named_pt)
    assert fmt == "mindspore" and tensors["w"].tolist() == [0, 1, 2, 3]

    legacy = tmp_path / "old.pt"
    legacy.write_bytes(LEGACY_MAGIC + b".")
    assert detect_format(legacy) == "torch"


def test_read_tensors_dispatches(generator):
    fmt_pt, from_pt = read_tensors(generator / "random_generator_bl.pt")
    fmt_tf, from_tf = read_tensors(generator / "random_generator_tf")
    assert (fmt_pt, fmt_tf) == ("torch", "tf1")
    assert from_pt["block_a.0.1.weight"].shape == (32, 3, 7, 7)
    assert from_tf["generator/G_MODEL/A/Conv/weights"].shape == (7, 7, 3, 32)
    np.testing.assert_array_equal(from_tf["generator/G_MODEL/A/Conv/weights"].transpose(3, 2, 0, 1),
                                  from_pt["block_a.0.1.weight"])


@pytest.mark.parametrize(
    "name, content",
    [
        ("x.bin", np.random.default_rng(7).integers(0, 256, 5000, dtype=np.uint8).tobytes()),
        ("notes.ckpt", b"model_checkpoint_path: nothing to see\n"),
        ("image.pt", b"\x89PNG\r\n\x1a\n" + b"\0" * 100),
        ("almost.ckpt", b"\n\x05\n\x03abcZZ"),  # protobuf-like start, but no tensor after the name
    ],
)
def test_unknown_content(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CheckpointFormatError) as info:
        read_tensors(path)
    assert str(info.value) == f"{path}: {UNKNOWN}"


def test_empty_file(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"")
    with pytest.raises(CheckpointFormatError) as info:
        detect_format(path)
    assert str(info.value) == f"{path}: an empty file, {UNKNOWN}"


def test_zip_that_is_not_a_torch_file(tmp_path):
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("weights/readme.txt", "hi")
    with pytest.raises(CheckpointFormatError, match=r"bundle\.zip: not a recognised checkpoint"):
        detect_format(path)


def test_truncated_pt_reports_the_damage(generator, tmp_path):
    path = tmp_path / "cut.pt"
    path.write_bytes((generator / "random_generator_bl.pt").read_bytes()[:5000])
    with pytest.raises(CheckpointFormatError, match=r"cut\.pt: not a readable PyTorch zip checkpoint"):
        read_tensors(path)


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(InvalidInputError, match=r"missing\.pt: no such file"):
        read_tensors(tmp_path / "missing.pt")
    with pytest.raises(CheckpointFormatError, match=r"no TF1 checkpoint in this folder"):
        detect_format(tmp_path)
