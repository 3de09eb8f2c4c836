"""``anime video``: stylize a video, keeping its sound, size and timing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from animecli import runtime
from animecli.cli import _console, _options


def command(
    source: Annotated[Path, typer.Argument(metavar="IN", show_default=False,
                                           help="The video (or animated GIF) to stylize.")],
    output: Annotated[Path, typer.Argument(metavar="OUT", show_default=False,
                                           help="The result: .mp4, .mov, .mkv, .webm or .gif.")],
    weights: _options.Weights = None,
    style: _options.Style = None,
    upsample: _options.Upsample = None,
    device: _options.Device = "auto",
    max_size: _options.MaxSize = None,
    brightness: _options.Brightness = False,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", "-b", min=1, help="Frames handed to the stylizer at a time. Each frame still runs "
        "through the network on its own (one compiled graph per frame size), so more than 1 only keeps more "
        "frames in flight.")] = 1,
    start: Annotated[float, typer.Option("--start", min=0.0, help="Convert from this time (seconds).")] = 0.0,
    end: Annotated[Optional[float], typer.Option("--end", help="Convert up to this time (seconds). "
                                                 "Default: the end.", show_default=False)] = None,
    audio: Annotated[bool, typer.Option("--audio/--no-audio", help="Keep the sound (every audio stream, "
                                        "copied as it is).")] = True,
    codec: Annotated[Optional[str], typer.Option(
        "--codec", help="Video encoder: libx264 (default; libvpx-vp9 for .webm), libx265, libvpx-vp9, "
        "libx264rgb (with --crf 0: lossless RGB) or ffv1 (lossless, .mkv).", show_default=False)] = None,
    crf: Annotated[Optional[int], typer.Option(
        "--crf", help="Quality, lower is better: 0 (lossless) to 51 (63 for VP9). "
        "Default: 18 (x264), 22 (x265), 31 (VP9).", show_default=False)] = None,
    preset: Annotated[Optional[str], typer.Option(
        "--preset", help="x264/x265 speed/size trade-off: ultrafast ... medium (default) ... veryslow.",
        show_default=False)] = None,
    overwrite: _options.Overwrite = False,
    cache_dir: _options.CacheDir = None,
    quiet: _options.Quiet = False,
) -> None:
    """Stylize a video: [bold]anime video clip.mp4 clip_anime.mp4[/]."""
    from animecli.inference.stylizer import StylizeSettings, open_stylizer
    from animecli.pipelines.video import VideoOptions, prepare_video, run_video
    from animecli.weights.resolve import load_generator_weights

    options = VideoOptions(start=start, end=end, audio=audio, codec=codec, crf=crf, preset=preset,
                           batch_size=batch_size, overwrite=overwrite)
    job = prepare_video(source, output, options)
    reporter = _console.RichReporter(quiet=quiet)
    loaded = load_generator_weights(weights=weights, style=style, upsample=upsample, cache_dir=cache_dir,
                                    reporter=reporter)
    stylizer = open_stylizer(loaded, StylizeSettings(device=device, max_size=max_size, brightness=brightness))
    runtime.skip_teardown_at_exit()  # outputs are complete when the command returns
    result = run_video(job, stylizer.stylize_batch, reporter=reporter)
    if not quiet:
        _print_summary(result, f"anime video ({stylizer.meta.name}, {stylizer.meta.upsample})")
    if result.damaged:
        _console.error(result.damaged, f"{result.output} holds the {result.frames} frames that decoded")
        raise typer.Exit(1)


def _print_summary(result, title: str) -> None:
    rate = result.rate
    rate_text = str(rate.numerator) if rate.denominator == 1 else f"{rate} (~{float(rate):.3f})"
    _console.labelled(f"{title}:", "bold", f"{result.output}: {result.frames} frames, {result.duration:.2f} s at "
                      f"{rate_text} fps, {result.size[0]}x{result.size[1]}, audio {result.audio}; took "
                      f"{result.seconds:.1f} s ({result.fps:.2f} frames/s)")
