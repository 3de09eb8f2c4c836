"""Our generator checkpoint: a MindSpore ``.ckpt`` with our parameter names plus metadata.

Metadata keys: ``arch`` (always ``animeganv2-generator``), ``upsample`` (tf | align | half-pixel), ``eps``
(layer-norm epsilon), ``source`` (where the weights came from), ``source_format``, ``preprocessing``
(``""`` or ``face_crop:<size>``) and ``name``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Mapping

import numpy as np

from animecli.errors import IncompatibleCheckpointError
from animecli.weights.convert import GENERATOR_ARCH, generator_params_from

#: What each source format implies when the file itself does not say.
FORMAT_DEFAULTS = {
    "tf1": {"upsample": "tf", "eps": 1e-12},
    "torch": {"upsample": "align", "eps": 1e-5},
    "mindspore": {"upsample": "tf", "eps": 1e-12},
}


@dataclass(frozen=True)
class WeightsMeta:
    """How a set of generator weights must be run."""

    name: str
    source_format: str
    upsample: str
    eps: float
    source: str = ""
    preprocessing: str = ""

    @property
    def face_crop_size(self) -> int:
        """Square crop size the weights expect (0 when they take whole pictures)."""
        if self.preprocessing.startswith("face_crop:"):
            return int(self.preprocessing.split(":", 1)[1])
        return 0


@dataclass
class GeneratorWeights:
    """Generator parameters (our names, float32 numpy arrays) and how to run them."""

    params: Dict[str, np.ndarray]
    meta: WeightsMeta


def default_meta(source_format: str, name: str, source: str = "") -> WeightsMeta:
    """Metadata implied by the source format (TF1: tf/1e-12, PyTorch: align/1e-5)."""
    defaults = FORMAT_DEFAULTS[source_format]
    return WeightsMeta(name=name, source_format=source_format, upsample=defaults["upsample"],
                       eps=defaults["eps"], source=source)


def meta_from_metadata(metadata: Mapping[str, object], name: str, source: str) -> WeightsMeta:
    """Rebuild ``WeightsMeta`` from the metadata stored in our checkpoint."""
    arch = metadata.get("arch", GENERATOR_ARCH)
    if arch != GENERATOR_ARCH:
        raise IncompatibleCheckpointError(f"{source} holds a {arch!r}, not an AnimeGANv2 generator")
    return WeightsMeta(
        name=str(metadata.get("name") or name),
        source_format=str(metadata.get("source_format", "mindspore")),
        upsample=str(metadata.get("upsample", "tf")),
        eps=float(metadata.get("eps", 1e-12)),
        source=str(metadata.get("source", source)),
        preprocessing=str(metadata.get("preprocessing", "")),
    )


def save_generator_ckpt(path: Path, weights: GeneratorWeights) -> None:
    """Write generator weights and their metadata as our MindSpore checkpoint (atomically)."""
    from animecli.weights.formats.mindspore_ckpt import write_mindspore_ckpt

    params = generator_params_from(weights.params, "mindspore", source=str(path))
    metadata = {"arch": GENERATOR_ARCH, **asdict(weights.meta)}
    write_mindspore_ckpt(Path(path), params, metadata)
