"""The PyTorch reader: the real fixture, hand-made torch-layout zips, and malicious pickles."""

from __future__ import annotations

import builtins
import collections
import io
import os
import pickle
import subprocess
import zipfile

import numpy as np
import pytest

from animecli.errors import CheckpointFormatError, UnsafeCheckpointError
from animecli.weights.formats.torch_pt import LEGACY_MAGIC, read_torch_state_dict
from tests.support.torch_files import Storage as _Storage
from tests.support.torch_files import Tensor as _Tensor
from tests.support.torch_files import storage as _storage
from tests.support.torch_files import write_torch_file


def bl_generator_shapes() -> dict[str, tuple]:
    """The BL state_dict names and shapes, written out from SPEC section 1."""
    shapes = {}

    def cnl(prefix, cin, cout, k):
        shapes[f"{prefix}.1.weight"] = (cout, cin, k, k)
        shapes[f"{prefix}.2.weight"] = shapes[f"{prefix}.2.bias"] = (cout,)

    def irb(prefix, cin, cout):
        mid = 2 * cin
        shapes[f"{prefix}.layers.0.1.weight"] = (mid, cin, 1, 1)
        shapes[f"{prefix}.layers.0.2.weight"] = shapes[f"{prefix}.layers.0.2.bias"] = (mid,)
        shapes[f"{prefix}.layers.1.1.weight"] = (mid, 1, 3, 3)
        shapes[f"{prefix}.layers.1.1.bias"] = (mid,)
        shapes[f"{prefix}.layers.1.2.weight"] = shapes[f"{prefix}.layers.1.2.bias"] = (mid,)
        shapes[f"{prefix}.layers.2.weight"] = (cout, mid, 1, 1)
        shapes[f"{prefix}.layers.3.weight"] = shapes[f"{prefix}.layers.3.bias"] = (cout,)

    cnl("block_a.0", 3, 32, 7), cnl("block_a.1", 32, 64, 3), cnl("block_a.2", 64, 64, 3)
    cnl("block_b.0", 64, 128, 3), cnl("block_b.1", 128, 128, 3)
    cnl("block_c.0", 128, 128, 3)
    irb("block_c.1", 128, 256)
    for i in (2, 3, 4):
        irb(f"block_c.{i}", 256, 256)
    cnl("block_c.5", 256, 128, 3)
    cnl("block_d.0", 128, 128, 3), cnl("block_d.1", 128, 128, 3)
    cnl("block_e.0", 128, 64, 3), cnl("block_e.1", 64, 64, 3), cnl("block_e.2", 64, 32, 7)
    shapes["out_layer.0.weight"] = (3, 32, 1, 1)
    return shapes


def test_fixture_loads_the_bl_generator(fixtures):
    tensors = read_torch_state_dict(fixtures / "generator" / "random_generator_bl.pt")
    expected = bl_generator_shapes()
    assert len(tensors) == 77
    assert {name: a.shape for name, a in tensors.items()} == expected
    assert all(a.dtype == np.float32 and a.flags["C_CONTIGUOUS"] for a in tensors.values())
    assert sum(a.size for a in tensors.values()) == 2_143_552
    # random He-normal weights, not zeros or garbage
    conv = tensors["block_a.0.1.weight"]
    assert np.isfinite(conv).all() and 0.01 < conv.std() < 1.0


# ---- torch-layout zips written without torch ------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 4])
def test_strides_offsets_and_shared_storage(tmp_path, protocol):
    base = np.arange(24, dtype=np.float32)
    s0 = _storage("FloatStorage", "0", base)
    s1 = _storage("LongStorage", "1", np.array([7, -3, 2**40], dtype=np.int64))
    s2 = _storage("BoolStorage", "2", np.array([True, False]))
    state = collections.OrderedDict(
        plain=_Tensor(s0, 0, (2, 3, 4), (12, 4, 1)),
        transposed=_Tensor(s0, 0, (4, 6), (1, 4)),  # a .t() view: not contiguous
        offset=_Tensor(s0, 5, (3,), (2,)),  # shares the storage, starts at element 5
        scalar=_Tensor(s0, 23, (), ()),
        empty=_Tensor(s0, 0, (0, 3), (3, 1)),
        longs=_Tensor(s1, 0, (3,), (1,)),
        flags=_Tensor(s2, 0, (2,), (1,)),
    )
    state._metadata = {"": {"version": 1}}  # what nn.Module.state_dict() attaches
    path = tmp_path / "views.pt"
    write_torch_file(path, state, [s0, s1, s2], protocol=protocol)
    got = read_torch_state_dict(path)
    np.testing.assert_array_equal(got["plain"], base.reshape(2, 3, 4))
    np.testing.assert_array_equal(got["transposed"], base.reshape(6, 4).T)
    assert got["transposed"].flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(got["offset"], [5, 7, 9])
    assert got["scalar"].shape == () and got["scalar"] == 23
    assert got["empty"].shape == (0, 3)
    assert got["longs"].dtype == np.int64 and got["longs"].tolist() == [7, -3, 2**40]
    assert got["flags"].dtype == np.bool_ and got["flags"].tolist() == [True, False]
    assert list(got) == list(state)


def test_half_bfloat16_and_big_endian(tmp_path):
    half = np.array([1.5, -2.0, 65504.0], dtype=np.float16)
    wanted_bf16 = np.array([1.0, -3.140625, 2.0**-100], dtype=np.float32)
    bf16_bits = (wanted_bf16.view(np.uint32) >> 16).astype(np.uint16)
    s0 = _storage("HalfStorage", "0", half)
    s1 = _Storage("BFloat16Storage", "1", bf16_bits.tobytes(), 3)
    path = tmp_path / "mixed.pt"
    write_torch_file(path, {"h": _Tensor(s0, 0, (3,), (1,)), "b": _Tensor(s1, 0, (3,), (1,))}, [s0, s1])
    got = read_torch_state_dict(path)
    assert got["h"].dtype == np.float16 and got["h"].tolist() == half.tolist()
    assert got["b"].dtype == np.float32 and got["b"].tolist() == wanted_bf16.tolist()

    big = _Storage("FloatStorage", "0", np.array([1.25, -8.0], dtype=">f4").tobytes(), 2)
    path = tmp_path / "big.pt"
    write_torch_file(path, {"w": _Tensor(big, 0, (2,), (1,))}, [big], byteorder="big")
    assert read_torch_state_dict(path)["w"].tolist() == [1.25, -8.0]


def test_nested_training_checkpoint_gets_dotted_names(tmp_path):
    s0 = _storage("FloatStorage", "0", np.ones(4, dtype=np.float32))
    ckpt = {"model": {"conv.weight": _Tensor(s0, 0, (2, 2), (2, 1))}, "epoch": 3, "history": [1.0, 2.0]}
    path = tmp_path / "train.pt"
    write_torch_file(path, ckpt, [s0])
    got = read_torch_state_dict(path)
    assert list(got) == ["model.conv.weight"]


def test_tensor_reaching_past_its_storage_is_refused(tmp_path):
    s0 = _storage("FloatStorage", "0", np.zeros(4, dtype=np.float32))
    path = tmp_path / "overrun.pt"
    write_torch_file(path, {"w": _Tensor(s0, 2, (2, 2), (2, 1))}, [s0])
    with pytest.raises(CheckpointFormatError, match=r"overrun\.pt: .*reaches past its storage of 4 elements"):
        read_torch_state_dict(path)


def test_storage_size_mismatch_and_missing_storage(tmp_path):
    short = _Storage("FloatStorage", "0", b"\0" * 12, 4)
    path = tmp_path / "short.pt"
    write_torch_file(path, {"w": _Tensor(short, 0, (4,), (1,))}, [short])
    with pytest.raises(CheckpointFormatError, match=r"short\.pt: tensor data archive/data/0 has 12 bytes"):
        read_torch_state_dict(path)

    path = tmp_path / "missing.pt"
    write_torch_file(path, {"w": _Tensor(short, 0, (3,), (1,))}, [])
    with pytest.raises(CheckpointFormatError, match=r"missing\.pt: tensor data archive/data/0 is missing"):
        read_torch_state_dict(path)


def test_truncated_fixture_is_a_format_error(fixtures, tmp_path):
    data = (fixtures / "generator" / "random_generator_bl.pt").read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointFormatError, match=r"cut\.pt: not a readable PyTorch zip checkpoint"):
        read_torch_state_dict(path)


def test_flipped_byte_in_tensor_data_is_caught(fixtures, tmp_path):
    data = bytearray((fixtures / "generator" / "random_generator_bl.pt").read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("random_generator_bl/data/3")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 100] ^= 0xFF
    path = tmp_path / "flipped.pt"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointFormatError, match=r"flipped\.pt: corrupt PyTorch checkpoint .*CRC"):
        read_torch_state_dict(path)


def test_legacy_torch_file_asks_for_a_resave(tmp_path):
    path = tmp_path / "old.pt"
    path.write_bytes(LEGACY_MAGIC + b"\x2e")
    with pytest.raises(CheckpointFormatError, match=r"old\.pt: a legacy PyTorch file.*re-save"):
        read_torch_state_dict(path)


def test_torchscript_archive_is_named(tmp_path):
    s0 = _storage("FloatStorage", "0", np.zeros(1, dtype=np.float32))
    path = tmp_path / "scripted.pt"
    write_torch_file(path, {"w": _Tensor(s0, 0, (1,), (1,))}, [s0], extra=["constants.pkl", "code/model.py"])
    with pytest.raises(CheckpointFormatError, match=r"scripted\.pt: a TorchScript archive"):
        read_torch_state_dict(path)


def test_zip_without_data_pkl(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointFormatError, match=r"other\.zip: a zip file but not a PyTorch checkpoint"):
        read_torch_state_dict(path)


# ---- malicious pickles ----------------------------------------------------------------------

class _Payload:
    """Pickles as a call of ``func(*args)``: what an attacker puts in data.pkl."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker):
    touch = f"touch {marker}"
    return {
        "posix.system": _Payload(os.system, (touch,)),
        "builtins.eval": _Payload(builtins.eval, (f"__import__('os').system({touch!r})",)),
        "subprocess.Popen": _Payload(subprocess.Popen, (["touch", str(marker)],)),
    }


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("refused", ["posix.system", "builtins.eval", "subprocess.Popen"])
def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path, refused, protocol):
    if refused == "posix.system" and os.system.__module__ != "posix":
        pytest.fail("this test expects a POSIX os.system")
    marker = tmp_path / "pwned"
    payload = _payloads(marker)[refused]
    # hidden among legitimate tensors, the way a tampered state_dict would carry it
    s0 = _storage("FloatStorage", "0", np.ones(3, dtype=np.float32))
    state = collections.OrderedDict(good=_Tensor(s0, 0, (3,), (1,)), evil=payload)
    path = tmp_path / "x.pt"
    write_torch_file(path, state, [s0], protocol=protocol)
    assert refused.split(".")[1].encode() in zipfile.ZipFile(path).read("archive/data.pkl")

    with pytest.raises(UnsafeCheckpointError) as info:
        read_torch_state_dict(path)
    assert str(info.value) == f"refusing to load {path}: it asks for {refused}, which is not tensor data"
    assert not marker.exists()


def test_a_payload_does_run_with_the_plain_unpickler(tmp_path):
    """Guards the test above: the same payload is live when unpickled without restrictions."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(_payloads(marker)["posix.system"], protocol=2))
    assert marker.exists()
