"""Declarative name/layout tables from each weight source to our generator's parameter names.

Our names are the PyTorch port's state_dict keys (OIHW layout). Conversion is strict: every parameter
must be matched with the right shape and nothing may be left over.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import numpy as np

from animecli.errors import IncompatibleCheckpointError

GENERATOR_ARCH = "animeganv2-generator"
TF_PREFIX = "generator/G_MODEL/"


def _cnl(prefix: str, in_ch: int, out_ch: int, k: int = 3, groups: int = 1, bias: bool = False):
    shapes = {f"{prefix}.1.weight": (out_ch, in_ch // groups, k, k)}
    if bias:
        shapes[f"{prefix}.1.bias"] = (out_ch,)
    shapes[f"{prefix}.2.weight"] = (out_ch,)
    shapes[f"{prefix}.2.bias"] = (out_ch,)
    return shapes


def _irb(prefix: str, in_ch: int, out_ch: int):
    b = 2 * in_ch
    shapes = _cnl(f"{prefix}.layers.0", in_ch, b, k=1)
    shapes.update(_cnl(f"{prefix}.layers.1", b, b, groups=b, bias=True))
    shapes[f"{prefix}.layers.2.weight"] = (out_ch, b, 1, 1)
    shapes[f"{prefix}.layers.3.weight"] = (out_ch,)
    shapes[f"{prefix}.layers.3.bias"] = (out_ch,)
    return shapes


def _generator_shapes() -> Dict[str, Tuple[int, ...]]:
    shapes: Dict[str, Tuple[int, ...]] = {}
    shapes.update(_cnl("block_a.0", 3, 32, k=7))
    shapes.update(_cnl("block_a.1", 32, 64))
    shapes.update(_cnl("block_a.2", 64, 64))
    shapes.update(_cnl("block_b.0", 64, 128))
    shapes.update(_cnl("block_b.1", 128, 128))
    shapes.update(_cnl("block_c.0", 128, 128))
    shapes.update(_irb("block_c.1", 128, 256))
    for i in (2, 3, 4):
        shapes.update(_irb(f"block_c.{i}", 256, 256))
    shapes.update(_cnl("block_c.5", 256, 128))
    shapes.update(_cnl("block_d.0", 128, 128))
    shapes.update(_cnl("block_d.1", 128, 128))
    shapes.update(_cnl("block_e.0", 128, 64))
    shapes.update(_cnl("block_e.1", 64, 64))
    shapes.update(_cnl("block_e.2", 64, 32, k=7))
    shapes["out_layer.0.weight"] = (3, 32, 1, 1)
    return shapes


#: Our generator's parameter names and shapes (77 tensors, 2,143,552 values).
GENERATOR_SHAPES: Dict[str, Tuple[int, ...]] = _generator_shapes()

_conv = lambda a: np.ascontiguousarray(a.transpose(3, 2, 0, 1))  # noqa: E731  HWIO -> OIHW
_depthwise = lambda a: np.ascontiguousarray(a.transpose(2, 3, 0, 1))  # noqa: E731  [kh,kw,C,1] -> (C,1,kh,kw)
_same = lambda a: np.ascontiguousarray(a)  # noqa: E731


def _tf_cnl_names(block: str, index: int) -> Tuple[str, str]:
    suffix = "" if index == 0 else f"_{index}"
    return f"{block}/Conv{suffix}", f"{block}/LayerNorm{suffix}"


def _tf_table() -> Dict[str, Tuple[str, Callable]]:
    """Our name -> (TF variable name without the ``generator/G_MODEL/`` prefix, layout transform)."""
    table: Dict[str, Tuple[str, Callable]] = {}

    def cnl(ours: str, block: str, index: int) -> None:
        conv, norm = _tf_cnl_names(block, index)
        table[f"{ours}.1.weight"] = (f"{conv}/weights", _conv)
        table[f"{ours}.2.weight"] = (f"{norm}/gamma", _same)
        table[f"{ours}.2.bias"] = (f"{norm}/beta", _same)

    for i in range(3):
        cnl(f"block_a.{i}", "A", i)
    for i in range(2):
        cnl(f"block_b.{i}", "B", i)
    cnl("block_c.0", "C", 0)
    cnl("block_c.5", "C", 1)
    for i in range(1, 5):
        ours, tf = f"block_c.{i}.layers", f"C/r{i}"
        cnl(f"{ours}.0", tf, 0)
        table[f"{ours}.1.1.weight"] = (f"{tf}/r{i}/w", _depthwise)
        table[f"{ours}.1.1.bias"] = (f"{tf}/r{i}/bias", _same)
        table[f"{ours}.1.2.weight"] = (f"{tf}/1/gamma", _same)
        table[f"{ours}.1.2.bias"] = (f"{tf}/1/beta", _same)
        table[f"{ours}.2.weight"] = (f"{tf}/Conv_1/weights", _conv)
        table[f"{ours}.3.weight"] = (f"{tf}/2/gamma", _same)
        table[f"{ours}.3.bias"] = (f"{tf}/2/beta", _same)
    for i in range(2):
        cnl(f"block_d.{i}", "D", i)
    for i in range(3):
        cnl(f"block_e.{i}", "E", i)
    table["out_layer.0.weight"] = ("out_layer/Conv/weights", _conv)
    return table


_TF_TABLE = _tf_table()


def check_generator_shapes(shapes: Dict[str, Tuple[int, ...]], unexpected: List[str], source: str) -> None:
    """Raise ``IncompatibleCheckpointError`` unless ``shapes`` (our names) are exactly the generator's."""
    missing = [n for n in GENERATOR_SHAPES if n not in shapes]
    mismatched = [f"{n} {tuple(shapes[n])} != {GENERATOR_SHAPES[n]}"
                  for n in GENERATOR_SHAPES if n in shapes and tuple(shapes[n]) != GENERATOR_SHAPES[n]]
    if missing or unexpected or mismatched:
        raise IncompatibleCheckpointError(
            f"{source} is not an AnimeGANv2 generator", missing, unexpected, mismatched)


def torch_shapes_check(source: str) -> Callable[[Dict[str, Tuple[int, ...]]], None]:
    """A ``check_torch_shapes`` for ``formats.read_tensors``: refuse a PyTorch file that is not our
    generator before its tensors are built."""
    return lambda shapes: check_generator_shapes(shapes, [n for n in shapes if n not in GENERATOR_SHAPES], source)


def _check(params: Dict[str, np.ndarray], unexpected: List[str], source: str) -> Dict[str, np.ndarray]:
    check_generator_shapes({n: a.shape for n, a in params.items()}, unexpected, source)
    return {n: params[n].astype(np.float32, copy=False) for n in GENERATOR_SHAPES}


def generator_params_from(tensors: Dict[str, np.ndarray], source_format: str,
                          source: str = "checkpoint") -> Dict[str, np.ndarray]:
    """Map tensors read from a checkpoint (source naming/layout) to our generator parameters.

    ``source_format`` is ``torch``, ``mindspore`` (our names already) or ``tf1``. Raises
    ``IncompatibleCheckpointError`` naming missing, unexpected and mis-shaped parameters.
    """
    if source_format in ("torch", "mindspore"):
        unexpected = [n for n in tensors if n not in GENERATOR_SHAPES]
        return _check(dict(tensors), unexpected, source)
    if source_format == "tf1":
        generator_vars = {n[len(TF_PREFIX):]: a for n, a in tensors.items() if n.startswith(TF_PREFIX)}
        if not generator_vars:
            raise IncompatibleCheckpointError(
                f"{source} holds no variables under {TF_PREFIX!r}: not an AnimeGANv2 generator checkpoint")
        # Optimizer slots (Adam moments) live under the same prefix in training checkpoints.
        weights = {n: a for n, a in generator_vars.items() if "/Adam" not in n}
        used = {tf_name for tf_name, _ in _TF_TABLE.values()}
        params = {ours: transform(weights[tf_name])
                  for ours, (tf_name, transform) in _TF_TABLE.items() if tf_name in weights}
        unexpected = [TF_PREFIX + n for n in weights if n not in used]
        missing_tf = [TF_PREFIX + _TF_TABLE[n][0] for n in GENERATOR_SHAPES if n not in params]
        if missing_tf:
            raise IncompatibleCheckpointError(f"{source} is not an AnimeGANv2 generator", missing_tf, unexpected)
        return _check(params, unexpected, source)
    raise IncompatibleCheckpointError(f"{source}: a {source_format} file cannot hold an AnimeGANv2 generator")

