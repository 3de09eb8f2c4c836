"""The training loop: phases, checkpoints, resume, logs, samples, loss plots and interruption.

Phases are data: an ``init`` phase (generator only, content loss) for the first ``init_epochs`` epochs, then
the ``gan`` phase (one discriminator update, then one generator update, per step). The loop knows nothing
about losses; it calls ``TrainSteps.init_step`` / ``gan_step`` and records what they return.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from animecli import runtime
from animecli.errors import InvalidInputError, TrainingDivergedError
from animecli.progress import NullReporter, Reporter
from animecli.training import checkpoint, plots
from animecli.training.checkpoint import TrainState
from animecli.training.config import TrainConfig
from animecli.training.data import BatchStream, DatasetFiles
from animecli.training.runlog import LossLog


@dataclass(frozen=True)
class Phase:
    """A stretch of epochs ``[first_epoch, end_epoch)`` trained with one kind of step."""

    name: str
    first_epoch: int
    end_epoch: int
    run_step: Callable  # (steps, photo, anime, anime_gray, smooth_gray) -> {loss name: value}
    bar_fields: Tuple[str, ...] = ()  # losses shown beside the progress bar (all are logged)


def _init_step(steps, photo, anime, anime_gray, smooth_gray):
    return steps.init_step(photo)


def _gan_step(steps, photo, anime, anime_gray, smooth_gray):
    return steps.gan_step(photo, anime, anime_gray, smooth_gray)


def phases(config: TrainConfig) -> List[Phase]:
    """The schedule of SPEC section 5 (empty phases left out)."""
    schedule = [Phase("init", 0, config.init_epochs, _init_step, ("con",)),
                Phase("gan", config.init_epochs, config.epochs, _gan_step,
                      ("g_total", "d_total", "g_adv", "g_con"))]
    return [p for p in schedule if p.end_epoch > p.first_epoch]


def phase_of(schedule: Sequence[Phase], epoch: int) -> Phase:
    """The phase that 0-based ``epoch`` belongs to."""
    return next(p for p in schedule if p.first_epoch <= epoch < p.end_epoch)


@dataclass
class TrainResult:
    """What a training session did."""

    run_dir: Path
    config: TrainConfig
    state: TrainState
    outcome: str  # finished | interrupted | stopped
    steps_run: int = 0
    seconds: float = 0.0
    last_losses: Dict[str, float] = field(default_factory=dict)
    saved: List[Path] = field(default_factory=list)
    is_writer: bool = True  # False on data-parallel workers other than rank 0


_STOP_AFTER, _INTERRUPTED = 1, 2


class _Interrupt:
    """First Ctrl-C (or SIGTERM) asks the loop to save and stop after the current step; a second one aborts.

    SIGTERM is handled too: while a graph runs, MindSpore's own SIGINT handler turns Ctrl-C into a SIGTERM
    to the process, and batch schedulers send SIGTERM before killing a job. MindSpore's data pipeline
    installs its own SIGTERM handler when it starts, so the loop calls ``arm`` after fetching each batch.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, reporter: Reporter):
        self.requested = False
        self._reporter = reporter
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.getsignal(signum) for signum in self.SIGNALS}
            self.arm()
        return self

    def arm(self) -> None:
        """(Re-)install the handlers (main thread only)."""
        for signum in self._previous:
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self._reporter.warn("interrupted: saving a checkpoint after this step (Ctrl-C again to abort)")

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


class Trainer:
    """Runs the phases from a ``TrainState`` to ``config.epochs``, writing into ``run_dir`` (rank 0 only).

    ``agree`` combines the workers' stop requests (0 none, 1 ``stop_after`` reached, 2 Ctrl-C) into their
    maximum, so that data-parallel workers stop at the same step; alone, it is the identity.
    """

    def __init__(self, *, steps, generator, state_params: Mapping[str, object], files: DatasetFiles,
                 run_dir: Path, state: TrainState, val_photos: Sequence[np.ndarray] = (), workers: int = 2,
                 rank: int = 0, world_size: int = 1, agree: Callable[[int], int] = int,
                 reporter: Optional[Reporter] = None, stop_after: Optional[int] = None):
        self.steps = steps
        self.generator = generator
        self.state_params = state_params
        self.files = files
        self.run_dir = Path(run_dir)
        self.state = state
        self.config = state.config
        self.val_photos = list(val_photos)
        self.workers = workers
        self.rank = rank
        self.world_size = world_size
        self.agree = agree
        self.reporter = reporter or NullReporter()
        self.stop_after = stop_after
        self.is_writer = rank == 0
        self.schedule = phases(self.config)
        self.steps_per_epoch = files.steps_per_epoch(self.config.batch_size, world_size)
        self._saved: List[Path] = []
        self._steps_run = 0
        self._last: Dict[str, float] = {}
        self._log: Optional[LossLog] = None
        self._compiled: set = set()  # phases (and "stylize") whose graphs are compiled

    # -- the loop -------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train until the last epoch, a stop request (Ctrl-C, ``stop_after``) or a failure."""
        self._log = LossLog(self.run_dir / "log.jsonl", keep_until_step=self.state.global_step) \
            if self.is_writer else None
        started = time.perf_counter()
        outcome = "finished"
        cfg, state = self.config, self.state
        stream = BatchStream(self.files, img_size=cfg.img_size, batch_size=cfg.batch_size, seed=cfg.seed,
                             start_epoch=state.epoch, start_step=state.step_in_epoch, end_epoch=cfg.epochs,
                             rank=self.rank, world_size=self.world_size, workers=self.workers)
        try:
            with _Interrupt(self.reporter) as interrupt:
                batches = iter(stream)
                while self.state.epoch < self.config.epochs:
                    stop = self._run_epoch(stream, batches, interrupt)
                    if stop:
                        outcome = "interrupted" if stop == _INTERRUPTED else "stopped"
                        self._save(snapshot=False)
                        break
                    if self._epoch_save_due():
                        self._save(snapshot=True)
        finally:
            self.reporter.stop()
            if self._log is not None:
                self._log.close()
        return TrainResult(self.run_dir, self.config, self.state, outcome, self._steps_run,
                           time.perf_counter() - started, self._last, list(self._saved), self.is_writer)

    def _run_epoch(self, stream: BatchStream, batches, interrupt: _Interrupt) -> int:
        """One epoch (or its rest); returns 0, or the agreed stop reason when asked to stop early."""
        cfg, state = self.config, self.state
        phase = phase_of(self.schedule, state.epoch)
        self.reporter.start(f"{phase.name} epoch {state.epoch + 1}/{cfg.epochs}", total=self.steps_per_epoch,
                            unit="step")
        if state.step_in_epoch:
            self.reporter.advance(state.step_in_epoch)
        show_fields = getattr(self.reporter, "show_fields", None)
        while state.step_in_epoch < self.steps_per_epoch:
            try:
                batch = next(batches)
            except Exception as exc:  # MindSpore wraps errors of the Python source
                self._data_failure(stream, exc)
                raise
            interrupt.arm()
            tick = time.perf_counter()
            losses = self._step(phase, batch)
            self._check_finite(losses)
            self.state = state = replace(state, step_in_epoch=state.step_in_epoch + 1,
                                         global_step=state.global_step + 1,
                                         train_seconds=state.train_seconds + time.perf_counter() - tick)
            self._steps_run += 1
            self._last = losses
            if self._log is not None:
                self._log.append({"step": state.global_step, "epoch": state.epoch + 1, "phase": phase.name,
                                  "time": round(state.train_seconds, 3), **losses})
            self.reporter.advance(1)
            if show_fields is not None:
                show_fields({k: losses[k] for k in phase.bar_fields if k in losses})
            if interrupt.requested:
                wanted = _INTERRUPTED
            elif self.stop_after is not None and self._steps_run >= self.stop_after:
                wanted = _STOP_AFTER
            else:
                wanted = 0
            stop = self.agree(wanted)
            if stop:
                return stop
        self.state = replace(state, epoch=state.epoch + 1, step_in_epoch=0)
        self.reporter.stop()
        return 0

    def _step(self, phase: Phase, batch) -> Dict[str, float]:
        """One training step (a phase's first step compiles its graphs)."""
        return self._compiling_once(
            phase.name, lambda: {k: float(v) for k, v in phase.run_step(self.steps, *batch).items()})

    def _compiling_once(self, name: str, call: Callable):
        """``call()``; the first call under ``name`` compiles graphs, so it runs inside ``runtime.compiling()``."""
        if name in self._compiled:
            return call()
        with runtime.compiling():
            result = call()
        self._compiled.add(name)
        return result

    def _epoch_save_due(self) -> bool:
        epoch = self.state.epoch
        return epoch % self.config.save_interval == 0 or epoch == self.config.epochs

    # -- failures -------------------------------------------------------------------------------------
    def _check_finite(self, losses: Dict[str, float]) -> None:
        bad = [name for name, value in losses.items() if not math.isfinite(value)]
        if bad:
            last = self.run_dir / checkpoint.STATE_FILE
            kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint was saved yet"
            raise TrainingDivergedError(
                f"loss {', '.join(f'{n}={losses[n]}' for n in bad)} at epoch {self.state.epoch + 1}, "
                f"step {self.state.global_step + 1}: training diverged; {kept}",
                hint="resume from the checkpoint with lower learning rates (--lr-g, --lr-d, --init-lr) "
                     "or loss weights",
            )

    def _data_failure(self, stream: BatchStream, exc: Exception) -> None:
        """A training image could not be decoded: save the (consistent) state, then say which file."""
        if stream.failure is None:
            return
        self._save(snapshot=False)
        path, reason = stream.failure
        raise InvalidInputError(
            f"{path}: cannot read this training image ({reason}); the run was saved at step "
            f"{self.state.global_step}",
            hint=f"remove or replace the file, then continue with --resume {self.run_dir}",
        ) from exc

    # -- outputs --------------------------------------------------------------------------------------
    def _save(self, snapshot: bool) -> None:
        """Training state, generator(s), sample grid and loss chart; only rank 0 writes."""
        if not self.is_writer:
            return
        rng = getattr(self.steps, "rng", None)
        state = replace(self.state, rng_state=rng.bit_generator.state if rng is not None else None)
        state_path = self.run_dir / checkpoint.STATE_FILE
        checkpoint.save_state(state_path, self.state_params, state)
        generator_path = self.run_dir / checkpoint.GENERATOR_FILE
        checkpoint.save_generator(generator_path, self.generator, self.config, self.run_dir, state.global_step)
        self._saved += [state_path, generator_path]
        if snapshot:
            snap = self.run_dir / f"generator_e{state.epoch:03d}.ckpt"
            checkpoint.save_generator(snap, self.generator, self.config, self.run_dir, state.global_step)
            self._saved.append(snap)
        tag = f"epoch{state.epoch:03d}_step{state.global_step:07d}"
        if self.val_photos:
            grid = plots.sample_grid(self.val_photos, self._stylize(self.val_photos),
                                     f"{self.config.style}: epoch {state.epoch}, step {state.global_step}")
            sample_path = self.run_dir / "samples" / f"{tag}.png"
            plots.write_png(sample_path, grid)
            self._saved.append(sample_path)
        if self._log is not None and self._log.records:
            plots.write_png(self.run_dir / "loss_curves.png", plots.loss_chart(self._log.records))

    def _stylize(self, photos: Sequence[np.ndarray]) -> List[np.ndarray]:
        import mindspore as ms

        batch = np.stack([p.astype(np.float32) / 127.5 - 1.0 for p in photos]).transpose(0, 3, 1, 2)
        out = self._compiling_once("stylize", lambda: self.generator(ms.Tensor(batch)).asnumpy())
        return [np.clip((o.transpose(1, 2, 0) + 1.0) * 127.5, 0, 255).round().astype(np.uint8) for o in out]
