"""Turn what the user named (a weights file, a registry style, a training run folder) into generator weights."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

from animecli.errors import InvalidInputError
from animecli.models import UPSAMPLE_MODES
from animecli.progress import Reporter
from animecli.weights.convert import generator_params_from, torch_shapes_check
from animecli.weights.generator_ckpt import GeneratorWeights, default_meta, meta_from_metadata


def read_generator_file(path: Path) -> GeneratorWeights:
    """Load generator weights from any supported checkpoint format (detected by content)."""
    from animecli.weights.formats import detect_format, read_tensors

    path = Path(path)
    fmt = detect_format(path)
    name = path.name.split(".")[0] or path.name
    if fmt == "mindspore":
        from animecli.weights.formats.mindspore_ckpt import read_mindspore_ckpt

        tensors, metadata = read_mindspore_ckpt(path)
        meta = meta_from_metadata(metadata, name=name, source=str(path))
    else:
        fmt, tensors = read_tensors(path, torch_shapes_check(str(path)))
        meta = default_meta(fmt, name=name, source=str(path))
    params = generator_params_from(tensors, fmt, source=str(path))
    return GeneratorWeights(params, meta)


def newest_generator_in(run_dir: Path) -> Optional[Path]:
    """The most recently written generator checkpoint in a training run folder (None if there is none)."""
    candidates = [p for p in Path(run_dir).rglob("generator*.ckpt") if p.is_file()]
    return max(candidates, key=lambda p: p.stat().st_mtime_ns) if candidates else None


def load_generator_weights(weights: Optional[Path] = None, style: Optional[str] = None,
                           upsample: Optional[str] = None, cache_dir: Optional[Path] = None,
                           reporter: Optional[Reporter] = None) -> GeneratorWeights:
    """Resolve ``--weights`` / ``--style`` (default style: the registry's default) to generator weights.

    ``upsample`` overrides the mode stored with (or implied by) the weights.
    """
    if weights is not None and style is not None:
        raise InvalidInputError("give either --weights or --style, not both")
    if upsample is not None and upsample not in UPSAMPLE_MODES:
        raise InvalidInputError(f"unknown upsample mode {upsample!r}: choose one of {', '.join(UPSAMPLE_MODES)}")
    if weights is not None:
        loaded = read_generator_file(Path(weights).expanduser())
    elif style is not None and Path(style).expanduser().is_dir():
        run_dir = Path(style).expanduser()
        checkpoint = newest_generator_in(run_dir)
        if checkpoint is None:
            raise InvalidInputError(f"{run_dir}: no generator*.ckpt in this folder (is it a training run?)")
        loaded = read_generator_file(checkpoint)
    else:
        from animecli.weights import cache, registry

        name = style or registry.DEFAULT_STYLE
        path = cache.ensure_weights(name, cache_dir=cache_dir, reporter=reporter, local_option="--weights")
        loaded = read_generator_file(path)
    if upsample is not None:
        loaded = GeneratorWeights(loaded.params, replace(loaded.meta, upsample=upsample))
    return loaded
