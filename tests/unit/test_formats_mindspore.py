"""Our MindSpore .ckpt files: written by mindspore.save_checkpoint, read back without MindSpore."""

from __future__ import annotations

import json

import mindspore as ms
import numpy as np
import pytest

from animecli.errors import CheckpointFormatError
from animecli.weights.formats.mindspore_ckpt import META_KEY, read_mindspore_ckpt, write_mindspore_ckpt
from animecli.weights.formats.tf1_checkpoint import read_tf1_checkpoint
from animecli.weights.formats.torch_pt import read_torch_state_dict

METADATA = {"architecture": "animeganv2-generator", "upsample": "tf", "eps": 1e-12, "source": "Hayao.ckpt", "version": 1}


@pytest.fixture(scope="module", autouse=True)
def _configured():
    """MindSpore is used directly below (tensors, load_checkpoint): set the device first, as commands do."""
    from animecli import runtime

    runtime.configure("cpu", mode="graph")


def _mixed_tensors():
    rng = np.random.default_rng(0)
    return {
        "conv.weight": rng.standard_normal((8, 3, 3, 3)).astype(np.float32),
        "norm.bias": rng.standard_normal(8).astype(np.float32),
        "half": np.array([0.5, -65504.0, np.inf], dtype=np.float16),
        "double": rng.standard_normal((2, 2)),
        "count": np.array(7, dtype=np.int64),  # a 0-d array stays 0-d
        "ints": np.array([-2**31, 2**31 - 1], dtype=np.int32),
        "bytes": np.arange(256, dtype=np.uint8),
        "mask": np.array([[True, False]]),
        "nan": np.array([np.nan, -0.0], dtype=np.float32),
    }


def _assert_same(got: dict, want: dict):
    assert list(got) == list(want)
    for name, array in want.items():
        assert got[name].dtype == array.dtype and got[name].shape == array.shape, name
        assert got[name].tobytes() == array.tobytes(), name


def test_round_trip_is_bitwise(tmp_path):
    tensors = _mixed_tensors()
    path = tmp_path / "weights.ckpt"
    write_mindspore_ckpt(path, tensors, METADATA)
    got, metadata = read_mindspore_ckpt(path)
    _assert_same(got, tensors)
    assert metadata == METADATA
    assert all(a.flags.writeable for a in got.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.ckpt"]  # no scratch files left


def test_mindspore_itself_reads_our_files(tmp_path):
    tensors = _mixed_tensors()
    path = tmp_path / "weights.ckpt"
    write_mindspore_ckpt(path, tensors, METADATA)
    loaded = ms.load_checkpoint(str(path), crc_check=True)
    assert json.loads(loaded.pop(META_KEY)) == METADATA
    _assert_same({k: v.asnumpy() for k, v in loaded.items()}, tensors)


@pytest.mark.parametrize("source", ["pt", "tf"])
def test_fixture_weights_survive_a_ckpt_round_trip(fixtures, tmp_path, source):
    folder = fixtures / "generator"
    if source == "pt":
        tensors = read_torch_state_dict(folder / "random_generator_bl.pt")
    else:
        tensors = read_tf1_checkpoint(folder / "random_generator_tf")
    path = tmp_path / f"{source}.ckpt"
    write_mindspore_ckpt(path, tensors, {"source": source})
    got, metadata = read_mindspore_ckpt(path)
    _assert_same(got, tensors)
    assert metadata == {"source": source}


def test_tensors_split_over_several_entries_are_joined(tmp_path, monkeypatch):
    import mindspore.train.serialization as serialization

    monkeypatch.setattr(serialization, "SLICE_SIZE", 1)  # KiB per entry: forces splitting
    big = np.arange(3000, dtype=np.float32).reshape(30, 100)
    path = tmp_path / "split.ckpt"
    write_mindspore_ckpt(path, {"big": big, "after": np.ones(2, dtype=np.float32)}, {})
    assert path.read_bytes().count(b"\n\x03big") > 5
    got, _ = read_mindspore_ckpt(path)
    _assert_same(got, {"big": big, "after": np.ones(2, dtype=np.float32)})


def test_a_plain_mindspore_checkpoint_without_crc_or_metadata(tmp_path):
    net_params = {"w": ms.Parameter(ms.Tensor(np.full((2, 3), 1.5, dtype=np.float32)), name="w")}
    path = tmp_path / "plain.ckpt"
    ms.save_checkpoint(net_params, str(path))
    renamed = tmp_path / "plain.weights"  # any name: the reader does not need ".ckpt"
    path.rename(renamed)
    got, metadata = read_mindspore_ckpt(renamed)
    assert metadata == {} and got["w"].tolist() == [[1.5] * 3] * 2


def test_bfloat16_entries_are_widened(tmp_path):
    values = np.array([1.0, -2.5, 3.140625], dtype=np.float32)
    param = ms.Parameter(ms.Tensor(values).astype(ms.bfloat16), name="b")
    path = tmp_path / "bf16.ckpt"
    ms.save_checkpoint({"b": param}, str(path))
    got, _ = read_mindspore_ckpt(path)
    assert got["b"].dtype == np.float32 and got["b"].tolist() == values.tolist()


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_truncated_file_is_a_format_error(tmp_path, keep):
    path = tmp_path / "weights.ckpt"
    write_mindspore_ckpt(path, _mixed_tensors(), METADATA)
    data = path.read_bytes()
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointFormatError, match=r"cut\.ckpt: not a readable MindSpore checkpoint \(truncated or corrupt"):
        read_mindspore_ckpt(cut)


def test_flipped_byte_fails_the_checksum(tmp_path):
    path = tmp_path / "weights.ckpt"
    write_mindspore_ckpt(path, _mixed_tensors(), METADATA)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x10
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointFormatError, match=r"weights\.ckpt: checksum mismatch"):
        read_mindspore_ckpt(path)


def test_failed_write_leaves_the_old_file_and_no_scratch(tmp_path, monkeypatch):
    path = tmp_path / "weights.ckpt"
    write_mindspore_ckpt(path, {"w": np.ones(2, dtype=np.float32)}, {"n": 1})
    before = path.read_bytes()

    def disk_full(save_obj, ckpt_file_name, **kwargs):
        with open(ckpt_file_name, "wb") as fh:
            fh.write(b"\n\x05half-")
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(ms, "save_checkpoint", disk_full)
        with pytest.raises(OSError, match="No space left"):
            write_mindspore_ckpt(path, {"w": np.zeros(2, dtype=np.float32)}, {"n": 2})
    with pytest.raises(TypeError, match="w: a MindSpore checkpoint cannot hold object data"):
        write_mindspore_ckpt(path, {"w": np.array(["not", "numbers"], dtype=object)}, {"n": 2})
    with pytest.raises(TypeError, match="not JSON serializable"):
        write_mindspore_ckpt(path, {"w": np.ones(2, dtype=np.float32)}, {"n": object()})
    with pytest.raises(ValueError, match="empty array"):
        write_mindspore_ckpt(path, {"w": np.zeros((0, 3), dtype=np.float32)}, {"n": 2})
    with pytest.raises(ValueError, match="reserved"):
        write_mindspore_ckpt(path, {META_KEY: np.ones(1)}, {})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["weights.ckpt"]
    write_mindspore_ckpt(path, {"w": np.zeros(2, dtype=np.float32)}, {"n": 3})  # overwriting works
    assert read_mindspore_ckpt(path)[1] == {"n": 3}
