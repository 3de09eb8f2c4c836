"""The TF1 checkpoint reader: the real fixture (written by TensorFlow) and hand-built bundles."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from animecli.errors import CheckpointFormatError, InvalidInputError
from animecli.weights.formats._crc32c import crc32c, masked
from animecli.weights.formats.tf1_checkpoint import TABLE_MAGIC, find_tf1_checkpoint, read_tf1_checkpoint
from animecli.weights.formats.torch_pt import read_torch_state_dict

PREFIX_NAME = "Random-1.ckpt"
DATA_NAME = PREFIX_NAME + ".data-00000-of-00001"


@pytest.fixture()
def tf_dir(fixtures):
    return fixtures / "generator" / "random_generator_tf"


@pytest.fixture()
def tf_copy(tf_dir, tmp_path):
    """A writable copy of the TF fixture folder."""
    dest = tmp_path / "ckpt"
    shutil.copytree(tf_dir, dest)
    for f in dest.iterdir():
        f.chmod(0o644)
    return dest


def test_crc32c_known_values():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    data = bytes(range(256)) * 100

    def bitwise(buf):
        reg = 0xFFFFFFFF
        for byte in buf:
            reg ^= byte
            for _ in range(8):
                reg = (reg >> 1) ^ 0x82F63B78 if reg & 1 else reg >> 1
        return reg ^ 0xFFFFFFFF

    for size in (1, 63, 64, 65, 1000, 64 * 300 + 3):
        assert crc32c(data[:size]) == bitwise(data[:size]), size


def test_all_path_forms_give_the_same_tensors(tf_dir):
    forms = [tf_dir, tf_dir / PREFIX_NAME, tf_dir / (PREFIX_NAME + ".index"), tf_dir / DATA_NAME, tf_dir / "checkpoint"]
    for form in forms:
        assert find_tf1_checkpoint(form) == tf_dir / PREFIX_NAME
    reference = read_tf1_checkpoint(tf_dir)
    assert len(reference) == 77
    assert sum(a.size for a in reference.values()) == 2_143_552
    assert reference["generator/G_MODEL/A/Conv/weights"].shape == (7, 7, 3, 32)  # HWIO, as stored
    assert reference["generator/G_MODEL/C/r1/r1/w"].shape == (3, 3, 256, 1)
    for form in forms[1:]:
        other = read_tf1_checkpoint(form)
        assert other.keys() == reference.keys()
        for name in reference:
            assert np.array_equal(other[name], reference[name]), name


def bl_to_tf_names() -> dict[str, tuple[str, str]]:
    """BL name -> (TF name, kind) from SPEC section 1; kind says how the layouts differ."""
    table = {}

    def cnl(bl, tf_block, index):
        suffix = f"_{index}" if index else ""
        table[f"{bl}.1.weight"] = (f"{tf_block}/Conv{suffix}/weights", "conv")
        table[f"{bl}.2.weight"] = (f"{tf_block}/LayerNorm{suffix}/gamma", "same")
        table[f"{bl}.2.bias"] = (f"{tf_block}/LayerNorm{suffix}/beta", "same")

    for i in range(3):
        cnl(f"block_a.{i}", "A", i)
        cnl(f"block_e.{i}", "E", i)
    for i in range(2):
        cnl(f"block_b.{i}", "B", i)
        cnl(f"block_d.{i}", "D", i)
    cnl("block_c.0", "C", 0)
    cnl("block_c.5", "C", 1)
    for i in range(1, 5):
        bl, tf = f"block_c.{i}.layers", f"C/r{i}"
        table[f"{bl}.0.1.weight"] = (f"{tf}/Conv/weights", "conv")
        table[f"{bl}.0.2.weight"] = (f"{tf}/LayerNorm/gamma", "same")
        table[f"{bl}.0.2.bias"] = (f"{tf}/LayerNorm/beta", "same")
        table[f"{bl}.1.1.weight"] = (f"{tf}/r{i}/w", "depthwise")
        table[f"{bl}.1.1.bias"] = (f"{tf}/r{i}/bias", "same")
        table[f"{bl}.1.2.weight"] = (f"{tf}/1/gamma", "same")
        table[f"{bl}.1.2.bias"] = (f"{tf}/1/beta", "same")
        table[f"{bl}.2.weight"] = (f"{tf}/Conv_1/weights", "conv")
        table[f"{bl}.3.weight"] = (f"{tf}/2/gamma", "same")
        table[f"{bl}.3.bias"] = (f"{tf}/2/beta", "same")
    table["out_layer.0.weight"] = ("out_layer/Conv/weights", "conv")
    return {bl: ("generator/G_MODEL/" + tf, kind) for bl, (tf, kind) in table.items()}


def test_tf_fixture_holds_the_same_numbers_as_the_pt_fixture(tf_dir, fixtures):
    tf = read_tf1_checkpoint(tf_dir)
    bl = read_torch_state_dict(fixtures / "generator" / "random_generator_bl.pt")
    names = bl_to_tf_names()
    assert set(names) == set(bl)
    assert {tf_name for tf_name, _ in names.values()} == set(tf)
    layouts = {"conv": (3, 2, 0, 1), "depthwise": (2, 3, 0, 1), "same": None}
    for bl_name, (tf_name, kind) in names.items():
        order = layouts[kind]
        converted = tf[tf_name] if order is None else tf[tf_name].transpose(order)
        assert np.array_equal(converted, bl[bl_name]), (bl_name, tf_name)


def test_missing_data_file_is_named(tf_copy):
    (tf_copy / DATA_NAME).unlink()
    with pytest.raises(CheckpointFormatError) as info:
        read_tf1_checkpoint(tf_copy)
    assert str(info.value) == f"{tf_copy / (PREFIX_NAME + '.index')}: its tensor data file {tf_copy / DATA_NAME} is missing"


def test_truncated_data_file(tf_copy):
    data = tf_copy / DATA_NAME
    data.write_bytes(data.read_bytes()[:-1000])
    with pytest.raises(CheckpointFormatError, match=r"\.data-00000-of-00001: truncated: .* needs bytes up to \d+ but the file has \d+"):
        read_tf1_checkpoint(tf_copy)


def test_flipped_byte_in_data_fails_the_checksum(tf_copy):
    data = tf_copy / DATA_NAME
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    data.write_bytes(bytes(raw))
    with pytest.raises(CheckpointFormatError, match=r"\.data-00000-of-00001: checksum mismatch for generator/G_MODEL/"):
        read_tf1_checkpoint(tf_copy)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: raw[:-1] + b"\x00", "bad magic number"),
        (lambda raw: raw[:30], "only 30 bytes"),
        (lambda raw: raw[:20] + bytes([raw[20] ^ 0x40]) + raw[21:], "checksum mismatch in the block at 0"),
        (lambda raw: b"", "only 0 bytes"),
    ],
)
def test_corrupt_index(tf_copy, damage, message):
    index = tf_copy / (PREFIX_NAME + ".index")
    index.write_bytes(damage(index.read_bytes()))
    with pytest.raises(CheckpointFormatError, match=rf"\.ckpt\.index: corrupt checkpoint index \({message}"):
        read_tf1_checkpoint(tf_copy)


def test_checkpoint_state_file_with_a_moved_absolute_path(tf_copy):
    (tf_copy / "checkpoint").write_text(
        'model_checkpoint_path: "/long/gone/train_dir/Random-1.ckpt"\n'
        'all_model_checkpoint_paths: "/long/gone/train_dir/Random-1.ckpt"\n'
    )
    assert find_tf1_checkpoint(tf_copy) == tf_copy / PREFIX_NAME


def test_checkpoint_state_file_naming_a_missing_checkpoint(tf_copy):
    (tf_copy / "checkpoint").write_text('model_checkpoint_path: "Other-9.ckpt"\n')
    with pytest.raises(CheckpointFormatError, match=r"checkpoint names Other-9\.ckpt, but .*Other-9\.ckpt\.index does not exist"):
        find_tf1_checkpoint(tf_copy)


def test_folder_forms(tf_copy, tmp_path):
    (tf_copy / "checkpoint").unlink()
    assert find_tf1_checkpoint(tf_copy) == tf_copy / PREFIX_NAME  # the only *.index
    shutil.copy(tf_copy / (PREFIX_NAME + ".index"), tf_copy / "Random-2.ckpt.index")
    with pytest.raises(CheckpointFormatError, match=r"several checkpoints \(Random-1\.ckpt\.index, Random-2\.ckpt\.index\)"):
        find_tf1_checkpoint(tf_copy)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointFormatError, match=r"empty: no TF1 checkpoint in this folder"):
        find_tf1_checkpoint(empty)
    with pytest.raises(InvalidInputError, match=r"nothing\.ckpt: no such file, folder or TF1 checkpoint prefix"):
        find_tf1_checkpoint(tmp_path / "nothing.ckpt")


# ---- hand-built bundles: dtypes, byte order, shards -----------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, value) -> bytes:
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    return _varint(number << 3) + _varint(value)


def _entry(dtype, shape, shard, offset, payload: bytes, sliced=False) -> bytes:
    dims = b"".join(_field(2, _field(1, d)) for d in shape)
    out = _field(1, dtype) + _field(2, dims) + _field(3, shard) + _field(4, offset) + _field(5, len(payload))
    out += _varint(6 << 3 | 5) + masked(crc32c(payload)).to_bytes(4, "little")
    if sliced:
        out += _field(7, b"")
    return out


def _block(items) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in items)
    return body + (0).to_bytes(4, "little") + (1).to_bytes(4, "little")


def _table(items, kind=0) -> bytes:
    out = bytearray()

    def put(block):
        offset = len(out)
        trailer = bytes([kind])
        out.extend(block + trailer + masked(crc32c(block + trailer)).to_bytes(4, "little"))
        return _varint(offset) + _varint(len(block))

    data_handle = put(_block(items))
    meta_handle = put(_block([]))
    index_handle = put(_block([(items[-1][0] + b"\xff", data_handle)]))
    footer = (meta_handle + index_handle).ljust(40, b"\0") + TABLE_MAGIC.to_bytes(8, "little")
    return bytes(out) + footer


def write_bundle(prefix, tensors: dict, shards=1, big_endian=False, extra=(), kind=0):
    """tensors: name -> (tf dtype enum, numpy array); written round-robin over the shards."""
    blobs = [bytearray() for _ in range(shards)]
    items = [(b"", _field(1, shards) + _field(2, 1 if big_endian else 0))]
    for i, (name, (dtype, array)) in enumerate(sorted(tensors.items())):
        shard = i % shards
        payload = np.ascontiguousarray(array).astype(array.dtype.newbyteorder(">" if big_endian else "<")).tobytes()
        items.append((name.encode(), _entry(dtype, array.shape, shard, len(blobs[shard]), payload)))
        blobs[shard] += payload
    items.extend(extra)
    items.sort()
    prefix.with_name(prefix.name + ".index").write_bytes(_table(items, kind))
    for shard, blob in enumerate(blobs):
        prefix.with_name(f"{prefix.name}.data-{shard:05d}-of-{shards:05d}").write_bytes(bytes(blob))


@pytest.mark.parametrize("big_endian", [False, True])
def test_dtypes_byte_order_and_shards(tmp_path, big_endian):
    tensors = {
        "w32": (1, np.arange(12, dtype=np.float32).reshape(3, 4) / 7),
        "w64": (2, np.array([1e300, -2.5])),
        "i32": (3, np.array([[-5, 2**31 - 1]], dtype=np.int32)),
        "u8": (4, np.array([0, 255], dtype=np.uint8)),
        "i64": (9, np.array(2**40 + 1, dtype=np.int64)),
        "flag": (10, np.array([True, False, True])),
        "half": (19, np.array([0.5, 65504], dtype=np.float16)),
        "empty": (1, np.zeros((0, 3), dtype=np.float32)),
    }
    prefix = tmp_path / "model.ckpt"
    write_bundle(prefix, tensors, shards=3, big_endian=big_endian)
    got = read_tf1_checkpoint(prefix)
    assert got.keys() == tensors.keys()
    for name, (_, array) in tensors.items():
        assert got[name].dtype == array.dtype.newbyteorder("=") and got[name].shape == array.shape, name
        assert np.array_equal(got[name], array), name


def test_bfloat16_is_widened_and_strings_are_left_out(tmp_path):
    wanted = np.array([1.0, -3.140625], dtype=np.float32)
    bits = (wanted.view(np.uint32) >> 16).astype(np.uint16)
    object_graph = (b"object_graph", _entry(7, (), 0, 0, b""))
    prefix = tmp_path / "bf.ckpt"
    write_bundle(prefix, {"b": (14, bits)}, extra=[object_graph])
    got = read_tf1_checkpoint(prefix)
    assert list(got) == ["b"] and got["b"].dtype == np.float32 and got["b"].tolist() == wanted.tolist()


def test_partitioned_variables_and_compressed_indexes_are_refused(tmp_path):
    prefix = tmp_path / "part.ckpt"
    write_bundle(prefix, {}, extra=[(b"big", _entry(1, (4,), 0, 0, b"", sliced=True))])
    with pytest.raises(CheckpointFormatError, match=r"big is a partitioned variable"):
        read_tf1_checkpoint(prefix)
    prefix = tmp_path / "snappy.ckpt"
    write_bundle(prefix, {"w": (1, np.ones(2, dtype=np.float32))}, kind=1)
    with pytest.raises(CheckpointFormatError, match=r"is compressed \(type 1\)"):
        read_tf1_checkpoint(prefix)


def test_size_that_disagrees_with_the_shape(tmp_path):
    prefix = tmp_path / "odd.ckpt"
    items = [(b"w", _entry(1, (3,), 0, 0, b"\0" * 8))]
    write_bundle(prefix, {}, extra=items)
    prefix.with_name("odd.ckpt.data-00000-of-00001").write_bytes(b"\0" * 8)
    with pytest.raises(CheckpointFormatError, match=r"w is stored with 8 bytes, its shape \[3\] needs 12"):
        read_tf1_checkpoint(prefix)
