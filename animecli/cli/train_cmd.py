"""``anime train``: train a new style (AnimeGANv2 recipe), resumable, with samples and loss plots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from animecli.cli import _console, _options

#: The seed project's spellings keep working, hidden: ``--batch_size`` is ``--batch-size`` (any ``_``), and
#: ``--dataset`` is ``--style``.
_LEGACY_NAMES = {"dataset": "style"}


def _normalize_option(token: str) -> str:
    token = token.replace("_", "-")
    return _LEGACY_NAMES.get(token, token)


CONTEXT_SETTINGS = {"token_normalize_func": _normalize_option}

_RUN = "Run"
_SCHEDULE = "Schedule (TF's defaults unless noted)"
_WEIGHTS = "Loss weights (default: the style's preset, else Shinkai's)"
_NETS = "Networks"


def _opt(*names: str, help: str, panel: str = _SCHEDULE, **kwargs):
    return typer.Option(*names, help=help, rich_help_panel=panel, show_default=False, **kwargs)


def command(
    style: Annotated[Optional[str], _opt("--style", "-s", panel=_RUN, help=(
        "Style to train: the folder <data-dir>/<STYLE>/ (style/ and smooth/ inside). Hayao, Paprika and "
        "Shinkai get their own loss weights. Optional with --resume."))] = None,
    data_dir: Annotated[Path, _opt("--data-dir", panel=_RUN, help=(
        "Dataset root with train_photo/, <STYLE>/style/, <STYLE>/smooth/ and val/. (default: ./dataset)"))]
    = None,
    val_dir: Annotated[Optional[Path], _opt("--val-dir", panel=_RUN, help=(
        "Photos for the sample grids. (default: <data-dir>/val)"))] = None,
    out: Annotated[Path, _opt("--out", "-o", panel=_RUN, help=(
        "Root of the run folders: the run goes to OUT/<STYLE>/<NAME>/. (default: runs)"))] = Path("runs"),
    name: Annotated[Optional[str], _opt("--name", panel=_RUN, help=(
        "Name of the run folder. (default: the start time, YYYYmmdd-HHMMSS)"))] = None,
    resume: Annotated[Optional[Path], _opt("--resume", panel=_RUN, help=(
        "Continue a run exactly where it stopped: a run folder (its train_state.ckpt) or a checkpoint "
        "file. Its saved settings are used, the VGG19 file included; only --epochs, --save-interval, "
        "--data-dir, --val-dir and --vgg (files that moved) may change."))] = None,
    init_from: Annotated[Optional[str], _opt("--init-from", panel=_RUN, help=(
        "Fine-tune: start the generator from these weights (a style name such as Hayao, a run folder or a "
        "weights file) with their upsampling mode and eps; the init phase is skipped unless "
        "--init-epochs is given."))] = None,
    vgg: Annotated[Optional[Path], _opt("--vgg", panel=_RUN, help=(
        "VGG19 weights for the perceptual losses: the Keras vgg19 .h5 or a converted .ckpt. "
        "(default: the registry's vgg19, downloaded once)"))] = None,
    epochs: Annotated[Optional[int], _opt("--epochs", min=1, help=(
        "Total epochs, init epochs included. (default: 101)"))] = None,
    init_epochs: Annotated[Optional[int], _opt("--init-epochs", min=0, help=(
        "Epochs of generator-only content training first. (default: 10)"))] = None,
    batch_size: Annotated[Optional[int], _opt("--batch-size", "-b", min=1, help=(
        "Images per step (per worker when distributed). (default: 4, as the seed CLI; TF used 12)"))] = None,
    img_size: Annotated[Optional[int], _opt("--img-size", min=32, help=(
        "Training crop size, a multiple of 4: each image is cropped to a square of its short side at a "
        "random place, then resized. (default: 256)"))] = None,
    lr_g: Annotated[Optional[float], _opt("--lr-g", help="Generator Adam learning rate. (default: 2e-5)")] = None,
    lr_d: Annotated[Optional[float], _opt("--lr-d", help="Discriminator learning rate. (default: 4e-5)")]
    = None,
    init_lr: Annotated[Optional[float], _opt("--init-lr", help="Init-phase learning rate. (default: 2e-4)")]
    = None,
    gan_loss: Annotated[Optional[str], _opt("--gan-loss", help=(
        "Adversarial loss: lsgan, hinge, gan or wgan-gp. (default: lsgan)"))] = None,
    save_interval: Annotated[Optional[int], _opt("--save-interval", min=1, panel=_RUN, help=(
        "Save a checkpoint, a generator snapshot, samples and the loss plot every N epochs (and at the "
        "end). (default: 5)"))] = None,
    seed: Annotated[Optional[int], _opt("--seed", help=(
        "Seed of the initial weights, the data order and the crops. (default: 0)"))] = None,
    wadvg: Annotated[Optional[float], _opt("--wadvg", panel=_WEIGHTS, help="Generator adversarial weight.")]
    = None,
    wadvd: Annotated[Optional[float], _opt("--wadvd", panel=_WEIGHTS, help="Discriminator loss weight.")]
    = None,
    wcon: Annotated[Optional[float], _opt("--wcon", panel=_WEIGHTS, help="Content (VGG) loss weight.")]
    = None,
    wgra: Annotated[Optional[float], _opt("--wgra", panel=_WEIGHTS, help="Gram style loss weight.")] = None,
    wcol: Annotated[Optional[float], _opt("--wcol", panel=_WEIGHTS, help="Colour (YUV) loss weight.")]
    = None,
    wtv: Annotated[Optional[float], _opt("--wtv", panel=_WEIGHTS, help="Total-variation loss weight.")]
    = None,
    wreal: Annotated[Optional[float], _opt("--wreal", panel=_WEIGHTS, help="D term weight: style images.")]
    = None,
    wfake: Annotated[Optional[float], _opt("--wfake", panel=_WEIGHTS, help="D term weight: generated.")]
    = None,
    wgray: Annotated[Optional[float], _opt("--wgray", panel=_WEIGHTS, help="D term weight: gray style.")]
    = None,
    wblur: Annotated[Optional[float], _opt("--wblur", panel=_WEIGHTS, help="D term weight: smoothed.")]
    = None,
    ch: Annotated[Optional[int], _opt("--ch", panel=_NETS, help="Discriminator base width. (default: 64)")]
    = None,
    n_dis: Annotated[Optional[int], _opt("--n-dis", panel=_NETS, help=(
        "Discriminator depth (stride-2 stages + 1). (default: 3)"))] = None,
    workers: Annotated[int, _opt("--workers", "-j", min=1, panel=_RUN, help=(
        "Threads decoding images. (default: 2)"))] = 2,
    distributed: Annotated[bool, _opt("--distributed", panel=_RUN, help=(
        "Data-parallel over the workers of `msrun` (see docs/training.md); rank 0 writes the run."))] = False,
    stop_after: Annotated[Optional[int], _opt("--stop-after", min=1, panel=_RUN, help=(
        "End this session after N steps with a resumable checkpoint (time-boxed jobs)."))] = None,
    dry_run: Annotated[bool, _opt("--dry-run", panel=_RUN, help=(
        "Print the resolved settings and the run folder as JSON, check the dataset, and exit."))] = False,
    device: _options.Device = "auto",
    cache_dir: _options.CacheDir = None,
    quiet: _options.Quiet = False,
) -> None:
    """Train a style: [bold]anime train --style Sakura[/] (dataset in ./dataset, run in runs/Sakura/...)."""
    from animecli.pipelines.train import check_dataset, describe, plan_training, train

    overrides = dict(
        data_dir=str(data_dir) if data_dir is not None else None,
        val_dir=str(val_dir) if val_dir is not None else None,
        vgg=str(vgg) if vgg is not None else None,
        epochs=epochs, init_epochs=init_epochs, batch_size=batch_size, img_size=img_size, lr_g=lr_g,
        lr_d=lr_d, init_lr=init_lr, gan_loss=gan_loss, save_interval=save_interval, seed=seed, ch=ch,
        n_dis=n_dis, adv_g=wadvg, adv_d=wadvd, con=wcon, sty=wgra, col=wcol, tv=wtv, real=wreal,
        fake=wfake, gray=wgray, blur=wblur,
    )
    plan = plan_training(style, overrides, out=out, name=name, resume=resume, init_from=init_from)
    if dry_run:
        typer.echo(describe(plan))
        if not _dataset_report(check_dataset, plan.config, quiet):
            raise typer.Exit(1)  # a dry run that finds a problem fails, so scripts can rely on it
        return
    reporter = _console.RichReporter(quiet=quiet)
    result = train(plan, device=device, workers=workers, distributed=distributed,
                   stop_after=stop_after, cache_dir=cache_dir, reporter=reporter)
    if not result.is_writer:
        return  # data-parallel workers other than rank 0 stay silent
    _report(result, quiet)
    if result.outcome == "interrupted":
        raise typer.Exit(130)


def _dataset_report(check_dataset, config, quiet: bool) -> bool:
    """Print what the dataset check found; False when it found a problem."""
    from animecli.errors import InvalidInputError

    try:
        files = check_dataset(config)
    except InvalidInputError as exc:
        _console.labelled("dataset:", "yellow", exc)
        if exc.hint:
            _console.labelled("hint:", "dim", exc.hint)
        return False
    _console.info(f"dataset: {len(files.photos)} photos, {len(files.style)} style, {len(files.smooth)} smooth "
                  f"images; {files.steps_per_epoch(config.batch_size)} steps per epoch", quiet)
    for path, reason in files.skipped:
        _console.info(f"skipped {path}: {reason}", quiet)
    return True


def _report(result, quiet: bool) -> None:
    state = result.state
    losses = ", ".join(f"{k} {v:.4g}" for k, v in result.last_losses.items())
    verb = {"finished": "finished", "stopped": "stopped", "interrupted": "interrupted"}[result.outcome]
    _console.info(f"{verb} at epoch {state.epoch_of_last_step}/{result.config.epochs}, step {state.global_step} "
                  f"({result.steps_run} steps in {result.seconds:.1f} s)" + (f"; last losses: {losses}"
                                                                              if losses else ""), quiet)
    if result.outcome != "finished":
        _console.info(f"continue with: anime train --resume {result.run_dir}", quiet)
    _console.info(f"try it: anime infer --weights {result.run_dir / 'generator.ckpt'} photos/ out/", quiet)
    _console.out_console.print(str(result.run_dir), soft_wrap=True)
