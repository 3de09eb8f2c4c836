"""``anime train --init-from``: the generator weights a fine-tuning run starts from.

The source is what ``anime infer`` accepts: a named style (``Hayao``), a training run folder, or a
weights file or TF1 checkpoint folder. Its upsampling mode and eps become the run's, so the fine-tuned
generator runs like the one it started from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Tuple

from animecli.weights.generator_ckpt import GeneratorWeights


def load_init_weights(source: str) -> Tuple[str, GeneratorWeights]:
    """``(label, weights)`` for ``--init-from SOURCE``: a path (label: absolute) or a style name."""
    from animecli.weights.resolve import load_generator_weights, newest_generator_in

    path = Path(source).expanduser()
    if path.is_dir() and newest_generator_in(path) is not None:
        return str(path.absolute()), load_generator_weights(style=str(path))  # a training run folder
    if path.exists():
        return str(path.absolute()), load_generator_weights(weights=path)  # a file or a TF1 folder
    return source, load_generator_weights(style=source)  # a registry name (downloaded once)
