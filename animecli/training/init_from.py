"""``anime train --init-from``: the generator weights a fine-tuning run starts from.

The source is what ``anime infer`` accepts: a named style (``Hayao``), a training run folder, or a
weights file or TF1 checkpoint folder. Its upsampling mode and eps become the run's, so the fine-tuned
generator runs like the one it started from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Tuple

from animecli.errors import IncompatibleCheckpointError
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


def start_from(generator, weights: GeneratorWeights) -> None:
    """Set ``generator``'s parameters (in place, so optimizers keep them) to ``weights``."""
    import mindspore as ms

    parameters = {name: ms.Parameter(ms.Tensor(array), name=name) for name, array in weights.params.items()}
    not_loaded, unused = ms.load_param_into_net(generator, parameters, strict_load=True)
    if not_loaded or unused:
        raise IncompatibleCheckpointError(f"{weights.meta.source}: generator weights did not load fully",
                                          missing=not_loaded, unexpected=unused)
