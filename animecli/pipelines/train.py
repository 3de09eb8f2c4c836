"""``anime train``: resolve the configuration and the run folder, build the networks and run the trainer.

``plan_training`` is cheap (no MindSpore unless resuming) and backs ``--dry-run``; ``train`` does the work
and returns a ``TrainResult``; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from animecli.errors import InvalidInputError
from animecli.files import atomic_write_bytes
from animecli.progress import NullReporter, Reporter
from animecli.training.checkpoint import STATE_FILE, TrainState, load_state, state_file
from animecli.training.config import TrainConfig, build_config
from animecli.training.data import DatasetFiles, find_dataset, load_val_photos
from animecli.weights import cache
from animecli.weights.generator_ckpt import GeneratorWeights

#: Options that may differ from the saved configuration when resuming a run (places may move).
RESUME_OVERRIDABLE = ("epochs", "save_interval", "data_dir", "val_dir", "vgg")
#: How many validation photos a sample grid shows.
SAMPLE_COUNT = 8


@dataclass(frozen=True)
class TrainPlan:
    """What a training command will do: the config, where it writes, and where it resumes from."""

    config: TrainConfig
    run_dir: Path
    resume_from: Optional[Path] = None
    state: Optional[TrainState] = None  # the resumed position; None for a new run
    init_weights: Optional[GeneratorWeights] = None  # --init-from: the generator's starting weights

    def summary(self) -> Dict[str, Any]:
        """A JSON-ready description (``--dry-run``)."""
        info: Dict[str, Any] = {"run_dir": str(self.run_dir), "config": self.config.to_dict()}
        if self.state is not None:
            info["resume"] = {"from": str(self.resume_from), "epoch": self.state.epoch,
                              "step_in_epoch": self.state.step_in_epoch, "global_step": self.state.global_step}
        if self.init_weights is not None:
            meta = self.init_weights.meta
            info["init_from"] = {"source": self.config.init_from, "weights": meta.source, "name": meta.name,
                                 "upsample": meta.upsample, "eps": meta.eps}
        return info


def plan_training(style: Optional[str], overrides: Mapping[str, Any], *, out: Path = Path("runs"),
                  name: Optional[str] = None, resume: Optional[Path] = None,
                  init_from: Optional[str] = None) -> TrainPlan:
    """Resolve the configuration (preset + ``overrides``, or the resumed run's own) and the run folder.

    ``overrides`` holds only what the user gave (``TrainConfig`` / ``LossWeights`` field names). A resumed run
    keeps every setting it started with, the VGG19 weights file included.
    ``init_from`` (new runs only) loads the starting generator weights: their upsampling mode and eps
    become the run's, and the init phase is skipped unless ``init_epochs`` is given.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "vgg" in overrides:  # absolute, so that a resume from another folder finds it
        overrides["vgg"] = str(Path(overrides["vgg"]).expanduser().absolute())
    if resume is None:
        if not style:
            raise InvalidInputError("--style is required (the name of the style folder under the dataset)")
        init_weights = None
        if init_from:
            from animecli.training.init_from import load_init_weights

            label, init_weights = load_init_weights(init_from)
            overrides = {"init_epochs": 0, **overrides, "init_from": label,
                         "upsample": init_weights.meta.upsample, "eps": init_weights.meta.eps}
        config = build_config(style, **overrides)
        folder = name or time.strftime("%Y%m%d-%H%M%S")
        return TrainPlan(config, Path(out) / config.style / folder, init_weights=init_weights)
    if init_from:
        raise InvalidInputError("--init-from starts a new run; a resumed run continues from its own weights")
    path = state_file(resume)
    _, state = load_state(path)
    saved = state.config
    if style and style.strip().lower() != saved.style.lower():
        raise InvalidInputError(f"{path} is a {saved.style} run, not {style}")
    changed = _changed_options(saved, overrides)
    fixed = [key for key in changed if key not in RESUME_OVERRIDABLE]
    if fixed:
        details = ", ".join(f"--{k.replace('_', '-')} (the run uses {_current(saved, k)})" for k in fixed)
        raise InvalidInputError(f"cannot change {details} when resuming {path}",
                                hint=f"only {', '.join('--' + k.replace('_', '-') for k in RESUME_OVERRIDABLE)} "
                                     "may change; start a new run for other settings")
    config = dataclasses.replace(saved, **{k: overrides[k] for k in changed})
    if state.epoch > config.epochs or (state.epoch == config.epochs and state.step_in_epoch == 0):
        raise InvalidInputError(f"{path} has already trained {state.epoch} of {config.epochs} epochs",
                                hint="raise --epochs to train further")
    return TrainPlan(config, path.parent, path, dataclasses.replace(state, config=config))


def _current(config: TrainConfig, key: str):
    return getattr(config.weights, key) if hasattr(config.weights, key) else getattr(config, key)


def _changed_options(config: TrainConfig, overrides: Mapping[str, Any]) -> List[str]:
    changed = []
    for key, value in overrides.items():
        if not (hasattr(config, key) or hasattr(config.weights, key)) or key in ("weights", "preset"):
            raise InvalidInputError(f"unknown training option {key}")
        current = _current(config, key)
        if isinstance(current, float) and current == float(value):
            continue
        if current != value:
            changed.append(key)
    return changed


def check_dataset(config: TrainConfig, world_size: int = 1, absolute: bool = False) -> DatasetFiles:
    """The training files of ``config`` (raises ``InvalidInputError`` naming what is missing).

    ``absolute`` lists them with absolute paths, as training needs: its data threads keep reading while
    a compilation has moved the process into the compile folder (``runtime.compiling``).
    """
    data_dir = Path(config.data_dir)
    return find_dataset(data_dir.absolute() if absolute else data_dir, config.style, config.batch_size,
                        world_size)


def _val_folder(config: TrainConfig) -> Optional[Path]:
    if config.val_dir is not None:
        folder = Path(config.val_dir)
        if not folder.is_dir():
            raise InvalidInputError(f"validation folder {folder} not found", hint="check --val-dir")
        return folder
    default = Path(config.data_dir) / "val"
    return default if default.is_dir() else None


def _vgg_path(vgg: Optional[str], cache_dir: Optional[Path], reporter: Reporter) -> Path:
    if vgg is not None:
        path = Path(vgg)
        if not path.is_file():
            raise InvalidInputError(f"{path}: no such VGG19 weights file",
                                    hint="--vgg takes the Keras vgg19 .h5 or a converted .ckpt")
        return path
    return cache.ensure_weights("vgg19", cache_dir=cache_dir, reporter=reporter, local_option="--vgg")


def train(plan: TrainPlan, *, device: str = "auto", workers: int = 2,
          distributed: bool = False, stop_after: Optional[int] = None, cache_dir: Optional[Path] = None,
          reporter: Optional[Reporter] = None):
    """Run (or continue) the training described by ``plan``; returns a ``TrainResult``.

    ``stop_after`` ends the session after that many steps with a resumable checkpoint. With
    ``distributed`` this process must have been started by ``msrun`` (see ``training.distributed``).
    """
    from animecli import runtime
    from animecli.training.distributed import Cluster, agree, join_cluster

    reporter = reporter or NullReporter()
    if stop_after is not None and stop_after < 1:
        raise InvalidInputError(f"--stop-after must be at least 1 (got {stop_after})")
    config = plan.config
    check_dataset(config)  # fail fast, before MindSpore starts
    # Operator fusion roughly halves a CPU step's time and memory; graphs compile in runtime.compiling().
    # MindSpore 2.8's fusion cannot compile the wgan-gp penalty (a gradient of a gradient): "Parameter_N
    # is not in old2new" when the graph is split, so that loss trains without it.
    runtime.configure(device, mode="graph", graph_kernel=config.gan_loss != "wgan-gp")
    cluster = join_cluster() if distributed else Cluster()  # before any side effect (see distributed.py)
    files = check_dataset(config, cluster.world_size, absolute=True)
    for path, reason in files.skipped:
        reporter.warn(f"skipped {path}: {reason}")
    if plan.state is not None and plan.state.step_in_epoch and plan.state.world_size != cluster.world_size:
        raise InvalidInputError(
            f"{plan.resume_from} stopped inside an epoch with {plan.state.world_size} worker(s); resume it with "
            f"the same number of workers (this run has {cluster.world_size})")
    val_photos = _sample_photos(config, files, reporter)
    vgg_path = _vgg_path(config.vgg, cache_dir, reporter)
    if cluster.is_writer and plan.state is None and (plan.run_dir / STATE_FILE).exists():
        raise InvalidInputError(f"{plan.run_dir} already holds a training run",
                                hint=f"continue it with --resume {plan.run_dir}, or pick another --name")

    steps, generator = build_steps(config, vgg_path, distributed)
    if plan.state is None and plan.init_weights is not None:
        from animecli.models.generator import load_generator_params

        load_generator_params(generator, plan.init_weights)
    state = plan.state or TrainState(config=config, world_size=cluster.world_size)
    if plan.state is not None:
        from animecli.training.checkpoint import restore

        arrays, _ = load_state(plan.resume_from)
        restore(steps.state_parameters(), arrays, str(plan.resume_from))
        if plan.state.rng_state is not None:
            steps.rng.bit_generator.state = plan.state.rng_state
    state = dataclasses.replace(state, world_size=cluster.world_size)
    if cluster.is_writer:
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        _write_config(plan.run_dir, config)

    from animecli.training.trainer import Trainer

    trainer = Trainer(steps=steps, generator=generator, state_params=steps.state_parameters(), files=files,
                      run_dir=plan.run_dir, state=state, val_photos=val_photos, workers=workers,
                      rank=cluster.rank, world_size=cluster.world_size, agree=functools.partial(agree, cluster),
                      reporter=reporter, stop_after=stop_after)
    return trainer.run()


def _sample_photos(config: TrainConfig, files: DatasetFiles, reporter: Reporter):
    folder = _val_folder(config)
    photos = load_val_photos(folder, config.img_size, SAMPLE_COUNT) if folder else []
    if not photos:
        where = folder or Path(config.data_dir) / "val"
        reporter.warn(f"no validation photos in {where}: sample grids show training photos instead")
        photos = load_val_photos(files.photos[0].parent, config.img_size, min(SAMPLE_COUNT, 4))
    return photos


def build_steps(config: TrainConfig, vgg_path: Path, distributed: bool = False):
    """Seeded networks and the compiled steps for ``config``: ``(TrainSteps, generator)``.

    Call after ``runtime.configure`` (and ``join_cluster`` when ``distributed``)."""
    import mindspore as ms

    from animecli.models.discriminator import Discriminator
    from animecli.models.generator import Generator
    from animecli.models.vgg19 import load_vgg19
    from animecli.training.steps import LossConfig, TrainSteps

    ms.set_seed(config.seed)
    generator = Generator(upsample=config.upsample, eps=config.eps)
    discriminator = Discriminator(ch=config.ch, n_dis=config.n_dis, eps=config.eps)
    vgg = load_vgg19(vgg_path)
    w = config.weights
    losses = LossConfig(g_adv=w.adv_g, d_adv=w.adv_d, con=w.con, sty=w.sty, col=w.col, tv=w.tv,
                        d_real=w.real, d_fake=w.fake, d_gray=w.gray, d_blur=w.blur, gan_loss=config.gan_loss)
    steps = TrainSteps(generator, discriminator, vgg, losses, init_lr=config.init_lr, lr_g=config.lr_g,
                       lr_d=config.lr_d, distributed=distributed, seed=config.seed)
    return steps, generator


def _write_config(run_dir: Path, config: TrainConfig) -> None:
    atomic_write_bytes(run_dir / "config.json", config.to_json().encode("utf-8"))


def describe(plan: TrainPlan) -> str:
    """``plan.summary()`` as indented JSON."""
    return json.dumps(plan.summary(), indent=2)
