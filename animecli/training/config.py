"""Training configuration: per-style loss-weight presets (SPEC section 4) and the schedule (SPEC section 5).

A ``TrainConfig`` is frozen, built from a preset plus explicit overrides, and saved as ``config.json`` in the
run folder (and inside every training checkpoint), so a run can always be resumed with its own settings.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from animecli.errors import InvalidInputError

GAN_LOSSES = ("lsgan", "hinge", "gan", "wgan-gp")


@dataclass(frozen=True)
class LossWeights:
    """Loss weights of SPEC section 4 (TF names in comments)."""

    adv_g: float  # g_adv_weight
    adv_d: float  # d_adv_weight
    con: float  # con_weight
    sty: float  # sty_weight (gram)
    col: float  # color_weight
    tv: float  # tv_weight
    real: float  # D term weights: real / fake / gray / blur
    fake: float
    gray: float
    blur: float


PRESETS: Dict[str, LossWeights] = {
    "Hayao": LossWeights(adv_g=300, adv_d=300, con=1.5, sty=2.5, col=15, tv=1,
                         real=1.2, fake=1.2, gray=1.2, blur=0.8),
    "Paprika": LossWeights(adv_g=300, adv_d=300, con=2.0, sty=0.6, col=50, tv=0.1,
                           real=1.0, fake=1.0, gray=1.0, blur=0.005),
    "Shinkai": LossWeights(adv_g=300, adv_d=300, con=1.2, sty=2.0, col=10, tv=1,
                           real=1.7, fake=1.7, gray=1.7, blur=1.0),
}
DEFAULT_PRESET = "Shinkai"  # TF's code default; new styles start from it


def preset_for(style: str) -> Tuple[str, LossWeights]:
    """The preset named like ``style`` (case-insensitive), else Shinkai's: ``(preset name, weights)``."""
    for name, weights in PRESETS.items():
        if name.lower() == style.strip().lower():
            return name, weights
    return DEFAULT_PRESET, PRESETS[DEFAULT_PRESET]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run computes. ``epochs`` counts the init epochs too."""

    style: str
    weights: LossWeights
    preset: str
    data_dir: str = "dataset"
    val_dir: Optional[str] = None  # None: <data_dir>/val
    vgg: Optional[str] = None  # the VGG19 weights file (--vgg, absolute); None: the registry's vgg19
    img_size: int = 256
    batch_size: int = 4  # the seed CLI's default; TF used 12
    epochs: int = 101
    init_epochs: int = 10
    lr_g: float = 2e-5
    lr_d: float = 4e-5
    init_lr: float = 2e-4
    gan_loss: str = "lsgan"
    ch: int = 64
    n_dis: int = 3
    save_interval: int = 5
    seed: int = 0
    # The generator's architecture identity, written into every generator checkpoint (SPEC section 1).
    upsample: str = field(default="tf")
    eps: float = field(default=1e-12)
    # ``--init-from``: the generator weights the run starts from (None: random weights, seeded).
    init_from: Optional[str] = None

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict (``weights`` nested)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Indented JSON text, keys in declaration order."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """Inverse of ``to_dict``; unknown or missing keys raise ``InvalidInputError``."""
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"training config has unknown keys: {', '.join(unknown)}")
        try:
            data["weights"] = LossWeights(**data["weights"])
            return cls(**data)
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(f"training config is incomplete or malformed: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        """Parse ``to_json`` output."""
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"training config is not valid JSON: {exc}") from exc

    def is_init_epoch(self, epoch: int) -> bool:
        """Whether 0-based ``epoch`` belongs to the generator-only init phase."""
        return epoch < self.init_epochs


WEIGHT_FIELDS = tuple(f.name for f in dataclasses.fields(LossWeights))
CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("weights", "preset"))


def build_config(style: str, **overrides: Any) -> TrainConfig:
    """A config for ``style``: its preset (Shinkai's for unknown styles) with ``overrides`` applied.

    Overrides use ``TrainConfig`` field names, or ``LossWeights`` field names for loss weights; ``None``
    values mean "keep the default".
    """
    if not style or not style.strip():
        raise InvalidInputError("a style name is required (e.g. --style Hayao)")
    preset, weights = preset_for(style)
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - set(WEIGHT_FIELDS) - set(CONFIG_FIELDS))
    if unknown:
        raise InvalidInputError(f"unknown training options: {', '.join(unknown)}")
    weights = dataclasses.replace(weights, **{k: float(v) for k, v in given.items() if k in WEIGHT_FIELDS})
    settings = {k: v for k, v in given.items() if k in CONFIG_FIELDS}
    return TrainConfig(style=style.strip(), weights=weights, preset=preset, **settings)


def _validate(cfg: TrainConfig) -> None:
    problems = []
    if cfg.img_size < 32 or cfg.img_size % 4:
        problems.append(f"--img-size must be a multiple of 4 and at least 32 (got {cfg.img_size})")
    for name in ("batch_size", "epochs", "save_interval", "n_dis"):
        if getattr(cfg, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(cfg, name)})")
    if cfg.ch < 2 or cfg.ch % 2:
        problems.append(f"--ch must be an even number of at least 2 (got {cfg.ch})")
    if not 0 <= cfg.init_epochs <= cfg.epochs:
        problems.append(f"--init-epochs must be between 0 and --epochs ({cfg.epochs}), got {cfg.init_epochs}")
    for name in ("lr_g", "lr_d", "init_lr"):
        if not getattr(cfg, name) > 0:
            problems.append(f"--{name.replace('_', '-')} must be positive (got {getattr(cfg, name)})")
    if cfg.gan_loss not in GAN_LOSSES:
        problems.append(f"--gan-loss must be one of {', '.join(GAN_LOSSES)} (got {cfg.gan_loss!r})")
    for name in WEIGHT_FIELDS:
        if getattr(cfg.weights, name) < 0:
            problems.append(f"loss weight {name} must not be negative (got {getattr(cfg.weights, name)})")
    if problems:
        raise InvalidInputError("; ".join(problems))
