"""``anime infer``: stylize photos."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from animecli import runtime
from animecli.cli import _console, _options
from animecli.errors import InvalidInputError


def command(
    paths: Annotated[List[str], typer.Argument(
        metavar="INPUT... OUTPUT", show_default=False,
        help="Image files, folders or glob patterns, then the output folder (or a file name for one input).")],
    weights: _options.Weights = None,
    style: _options.Style = None,
    upsample: _options.Upsample = None,
    device: _options.Device = "auto",
    recursive: Annotated[bool, typer.Option("--recursive", "-r",
                                            help="Also take pictures in sub-folders (mirrored in OUTPUT).")] = False,
    ext: Annotated[Optional[str], typer.Option("--ext", help="Output format: jpg, png, webp, bmp, tif. "
                                               "Default: the input's.", show_default=False)] = None,
    quality: Annotated[int, typer.Option("--quality", min=1, max=100, help="JPEG / WebP quality.")] = 95,
    max_size: _options.MaxSize = None,
    max_megapixels: Annotated[float, typer.Option(
        "--max-megapixels", min=0.01, help="Refuse larger pictures, unless --max-size is given: they are then "
        "read reduced and written at the processed size.")] = 100,  # images.DEFAULT_MAX_MEGAPIXELS (not
    # imported here: it loads OpenCV)
    keep_processed_size: Annotated[bool, typer.Option(
        "--keep-processed-size", help="With --max-size, keep the smaller processed size.")] = False,
    brightness: _options.Brightness = False,
    side_by_side: Annotated[bool, typer.Option("--side-by-side", help="Write input | output side by side.")] = False,
    overwrite: _options.Overwrite = False,
    distributed: Annotated[bool, typer.Option(
        "--distributed", help="Share the pictures out over the workers of `msrun` (see docs/infer.md); "
        "rank 0 prints the summary.")] = False,
    cache_dir: _options.CacheDir = None,
    quiet: _options.Quiet = False,
) -> None:
    """Stylize photos: [bold]anime infer photos/ out/[/]."""
    if len(paths) < 2:
        raise InvalidInputError("give at least one INPUT and the OUTPUT (e.g. `anime infer photos/ out/`)")
    from animecli.cluster import Cluster
    from animecli.inference.stylizer import StylizeSettings, open_stylizer
    from animecli.pipelines.infer import InferOptions, plan_jobs, run_infer, run_infer_distributed
    from animecli.weights.resolve import load_generator_weights

    cluster = _join_cluster(device) if distributed else Cluster()  # before any side effect (animecli.cluster)
    quiet = quiet or not cluster.is_writer  # no progress on the other workers
    inputs = paths[:-1]
    engine = StylizeSettings(device=device, max_size=max_size, keep_processed_size=keep_processed_size,
                             brightness=brightness)
    options = InferOptions(engine=engine, recursive=recursive, ext=ext, quality=quality, overwrite=overwrite,
                           side_by_side=side_by_side, max_megapixels=max_megapixels)
    jobs, refused, skipped = plan_jobs(inputs, paths[-1], options)
    if not jobs and not refused:
        raise InvalidInputError(f"no pictures found in {', '.join(inputs)}")
    if not jobs:  # every picture was refused: no model to load
        if cluster.is_writer:
            _console.print_summary("anime infer", 0, skipped, refused, 0.0, quiet=quiet)
        cluster.barrier()  # msrun kills every worker once one exits non-zero: rank 0 prints first
        raise typer.Exit(1)
    reporter = _console.RichReporter(quiet=quiet)
    loaded = load_generator_weights(weights=weights, style=style, upsample=upsample, cache_dir=cache_dir,
                                    reporter=reporter)
    stylizer = open_stylizer(loaded, options.engine)
    if distributed:
        result = run_infer_distributed(jobs, stylizer, options, cluster, reporter=reporter, refused=refused,
                                       skipped=skipped)
    else:
        runtime.skip_teardown_at_exit()  # outputs are complete when the command returns
        result = run_infer(jobs, stylizer, options, reporter=reporter, refused=refused, skipped=skipped)
    if cluster.is_writer:  # one summary for the whole cluster
        title = f"anime infer ({stylizer.meta.name}, {stylizer.meta.upsample})"
        _console.print_summary(title, len(result.done), result.skipped, result.failed, result.seconds,
                               quiet=quiet)
    if result.failed:
        cluster.barrier()  # as above
        raise typer.Exit(1)


def _join_cluster(device: str):
    """Configure the device as ``open_stylizer`` will, then join the msrun cluster (``animecli.cluster``)."""
    from animecli import cluster

    cluster.require_launcher("infer")  # before MindSpore loads
    runtime.prepare_environment()
    runtime.configure(device, mode="graph", graph_kernel=True)
    return cluster.join("infer")
