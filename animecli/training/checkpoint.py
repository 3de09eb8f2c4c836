"""Training checkpoints: the whole resumable state in one MindSpore ``.ckpt``, and inference generator files.

``train_state.ckpt`` holds every parameter of the generator, the discriminator (spectral-norm ``u`` vectors
included) and the three optimizers, named as ``TrainSteps.state_parameters()`` names them, plus a metadata entry
``animecli_train_state``: JSON with the position (completed epochs, steps into the next epoch, global
step, world size), the seed, the training time so far and the full config. Resuming reads all of it from
the file, never from its name.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional

import numpy as np

from animecli.errors import CheckpointFormatError, IncompatibleCheckpointError, InvalidInputError
from animecli.training.config import TrainConfig

STATE_FILE = "train_state.ckpt"
GENERATOR_FILE = "generator.ckpt"
STATE_KEY = "animecli_train_state"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TrainState:
    """Where a run stands. ``epoch`` epochs are complete and ``step_in_epoch`` steps of the next one done.

    The data order and crops are a function of ``(config.seed, epoch)`` and the parameters are saved, so this
    position and the steps' own generator (``rng_state``) are the whole random state of a run.
    """

    config: TrainConfig
    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    world_size: int = 1
    train_seconds: float = 0.0
    rng_state: Optional[Dict] = None  # TrainSteps.rng (wgan-gp interpolation weights)

    @property
    def epoch_of_last_step(self) -> int:
        """The 1-based epoch of step ``global_step``, as ``log.jsonl`` numbers it (0 before any step)."""
        return self.epoch + 1 if self.step_in_epoch else self.epoch

    def to_json(self) -> str:
        data = asdict(self)
        data["config"] = self.config.to_dict()
        data["format_version"] = FORMAT_VERSION
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str, source: str) -> "TrainState":
        try:
            data = json.loads(text)
            version = data.pop("format_version", None)
            if version != FORMAT_VERSION:
                raise CheckpointFormatError(f"{source}: training state version {version!r} is not supported")
            config = TrainConfig.from_dict(data.pop("config"))
            return cls(config=config, **data)
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CheckpointFormatError(f"{source}: unreadable training state ({exc})") from exc


def state_file(resume: Path) -> Path:
    """The training checkpoint named by ``--resume``: a file, or ``train_state.ckpt`` in a run folder."""
    resume = Path(resume).expanduser()
    if resume.is_dir():
        candidate = resume / STATE_FILE
        if not candidate.is_file():
            raise InvalidInputError(f"{resume}: no {STATE_FILE} in this folder (is it a training run?)")
        return candidate
    if not resume.is_file():
        raise InvalidInputError(f"{resume}: no such training run folder or checkpoint")
    return resume


def save_state(path: Path, parameters: Mapping[str, object], state: TrainState) -> None:
    """Write ``parameters`` (name -> MindSpore Parameter) and ``state`` to ``path`` atomically."""
    from animecli.weights.formats.mindspore_ckpt import write_mindspore_ckpt

    arrays = {name: value.asnumpy() for name, value in parameters.items()}
    write_mindspore_ckpt(Path(path), arrays, {STATE_KEY: state.to_json()})


def load_state(path: Path):
    """Read a training checkpoint: ``(name -> numpy array, TrainState)``."""
    from animecli.weights.formats.mindspore_ckpt import read_mindspore_ckpt

    path = Path(path)
    arrays, metadata = read_mindspore_ckpt(path)
    text = metadata.get(STATE_KEY)
    if not isinstance(text, str):
        raise CheckpointFormatError(f"{path}: not an animecli training checkpoint (no training state in it)",
                                    hint="--resume takes a run folder or its train_state.ckpt")
    return arrays, TrainState.from_json(text, str(path))


def restore(parameters: Mapping[str, object], saved: Mapping[str, np.ndarray], source: str) -> None:
    """Copy ``saved`` arrays into ``parameters`` in place; every name must match with the same shape."""
    import mindspore as ms

    missing = sorted(set(parameters) - set(saved))
    unexpected = sorted(set(saved) - set(parameters))
    mismatched = sorted(name for name in set(parameters) & set(saved)
                        if tuple(parameters[name].shape) != tuple(saved[name].shape))
    if missing or unexpected or mismatched:
        raise IncompatibleCheckpointError(f"{source} does not fit this training set-up", missing, unexpected,
                                          mismatched)
    for name, parameter in parameters.items():
        parameter.set_data(ms.Tensor(saved[name], dtype=parameter.dtype))


def save_generator(path: Path, generator, config: TrainConfig, run_dir: Path, global_step: int) -> None:
    """Write the generator as a normal inference checkpoint (``anime infer --weights PATH``)."""
    from animecli.weights.generator_ckpt import GeneratorWeights, WeightsMeta, save_generator_ckpt

    params = {name: p.asnumpy() for name, p in generator.parameters_and_names()}  # structural names
    meta = WeightsMeta(name=f"{config.style} (step {global_step})", source_format="mindspore",
                       upsample=config.upsample, eps=config.eps, source=str(run_dir))
    save_generator_ckpt(Path(path), GeneratorWeights(params, meta))
