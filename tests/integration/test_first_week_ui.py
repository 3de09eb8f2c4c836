"""What a new user hits in the first week (issue 14, items 2, 3, 4, 9, 12, 13): names with square brackets
through every command, the plain install, resuming a run, odd-size video and the display at 80 columns.

Everything runs the real ``anime`` command in a subprocess (a pseudo-terminal where the display matters) on
tiny pictures and videos with the small fixture weights.
"""

from __future__ import annotations

import ast
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_anime
from tests.support.paths import PROJECT_ROOT
from tests.support.terminal import run_anime_in_terminal
from tests.support.train_data import VGG_H5, make_dataset
from tests.support.video_tools import FFMPEG, decode, make_video, report


# -- item 3 and 9: the plain `pip install .` ---------------------------------------------------------------

def _requirement_name(requirement: str) -> str:
    return re.split(r"[ <>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _third_party_imports() -> set:
    """Top-level modules that animecli's code imports, standard library and animecli itself left out."""
    found = set()
    for path in (PROJECT_ROOT / "animecli").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name not in ("animecli", "__future__")}


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_module_animecli_imports_comes_with_the_plain_install():
    from importlib.metadata import packages_distributions

    required = {_requirement_name(r) for r in _pyproject()["project"]["dependencies"]}
    owners = packages_distributions()
    imported = _third_party_imports()
    assert {"mindspore", "cv2", "h5py", "imageio_ffmpeg", "typer", "rich"} <= imported  # the walk sees them
    missing = {module: owners.get(module) for module in imported
               if not {_requirement_name(d) for d in owners.get(module, [module])} & required}
    assert missing == {}, f"imported by animecli but not in [project] dependencies: {missing}"


def test_opencv_is_capped_at_releases_that_accept_numpy_below_2():
    dependencies = _pyproject()["project"]["dependencies"]
    assert "numpy<2" in dependencies
    # opencv-python-headless 4.12.0.88 requires numpy>=2 (its metadata, checked with pip): pip would
    # download every 4.12+ wheel before settling on 4.11.
    assert "opencv-python-headless>=4.8,<4.12" in dependencies


# -- item 2: names with square brackets are shown as typed, through every command ----------------------------

BOLD = "[b]old.jpg"  # rich markup would print "old.jpg" in bold
TAGGED = "[subsplease] x.jpg"  # an unknown style tag: rich would drop it
CLOSING = "y[/i]"  # a closing tag without an opening one: rich raised MarkupError


def _picture(path: Path, height: int = 40, width: int = 48) -> Path:
    import cv2
    import numpy as np

    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8))
    return path


def _literal(result) -> str:
    """stderr + stdout, checked for the signs of markup trouble."""
    text = result.stderr + result.stdout
    assert "Traceback" not in text and "MarkupError" not in text, text
    return text


@pytest.fixture(scope="module")
def weights(fixtures):
    return fixtures / "generator" / "random_generator_bl.pt"


def test_infer_prints_bracketed_names_as_typed_in_failures_and_skips(tmp_path, weights):
    _picture(tmp_path / BOLD)
    (tmp_path / TAGGED).write_bytes(b"not a picture")
    out = tmp_path / CLOSING
    first = run_anime("infer", BOLD, TAGGED, CLOSING, "-w", weights, cwd=tmp_path)
    assert first.returncode == 1 and (out / BOLD).is_file()
    assert f"failed {tmp_path / TAGGED}: not a decodable image" in _literal(first)
    again = run_anime("infer", BOLD, CLOSING, "-w", weights, cwd=tmp_path)  # only skips: it used to crash
    assert again.returncode == 0, again.stderr
    assert f"skipped {tmp_path / BOLD}: {out / BOLD} exists (use --overwrite)" in _literal(again)


def test_smooth_prints_bracketed_names_as_typed(tmp_path):
    style = tmp_path / CLOSING / "style"
    style.mkdir(parents=True)
    _picture(style / BOLD)
    (style / TAGGED).write_bytes(b"not a picture")
    result = run_anime("smooth", CLOSING, "--size", "32", cwd=tmp_path)
    assert result.returncode == 1 and (tmp_path / CLOSING / "smooth" / BOLD).is_file()
    text = _literal(result)
    assert f"smoothing {CLOSING}/style -> {CLOSING}/smooth" in text
    assert f"failed {CLOSING}/style/{TAGGED}: not a decodable image" in text


def test_brightness_prints_bracketed_names_as_typed(tmp_path):
    _picture(tmp_path / BOLD)
    (tmp_path / CLOSING).mkdir(parents=True)
    missing = run_anime("brightness", BOLD, TAGGED, f"{CLOSING}/{BOLD}", cwd=tmp_path)
    assert missing.returncode == 1
    assert f"error: {TAGGED}: no such file or folder" in _literal(missing)
    done = run_anime("brightness", BOLD, BOLD, f"{CLOSING}/{BOLD}", cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / CLOSING / BOLD).is_file()


def test_train_dry_run_prints_bracketed_folders_as_typed(tmp_path):
    result = run_anime("train", "--style", "[b]Sakura", "--data-dir", CLOSING, "--dry-run", cwd=tmp_path)
    text = _literal(result)
    assert f"dataset folder {CLOSING} not found" in text
    assert '"run_dir": "runs/[b]Sakura/' in result.stdout


def test_download_weights_errors_print_names_and_paths_as_typed(tmp_path):
    unknown = run_anime("download-weights", "[b]old", cwd=tmp_path)
    assert unknown.returncode == 1 and "error: unknown weights '[b]old'" in _literal(unknown)
    offline = run_anime("download-weights", "Hayao", "--cache-dir", CLOSING, cwd=tmp_path, env={"ANIME_OFFLINE": "1"})
    assert offline.returncode == 1
    assert f"and copy {CLOSING}/weights here" in _literal(offline)


# -- item 13: help at 80 columns ------------------------------------------------------------------------------

def _command_options(name: str) -> list:
    """The ``--`` options of ``anime NAME`` (NAME may be a sub-command path such as ``cache info``)."""
    import typer

    from animecli.cli.app import app

    command = typer.main.get_command(app)
    for part in name.split():
        command = command.commands[part]
    return [opt for param in command.params if param.param_type_name == "option"
            for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--")]


@pytest.mark.parametrize("name", ["", "infer", "video", "smooth", "brightness", "train", "download-weights",
                                  "export", "cache", "cache info", "cache clear"])
def test_help_at_80_columns_shows_every_option_whole_and_no_bool_tag(tmp_path, name):
    result = run_anime(*name.split(), "--help", cwd=tmp_path, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text and "<bool>" not in text, text
    shown = set(re.findall(r"--[a-z][a-z-]*", text))
    assert set(_command_options(name)) <= shown, text
    if name in ("infer", "video", "train", "download-weights"):
        assert "~/.cache/animecli" in text
    if name == "train":
        assert "(default: the registry's vgg19," in text and "downloaded once)" in text  # was eaten as markup


def test_video_in_a_terminal_shows_bracketed_names_in_progress_warnings_and_summary(tmp_path, weights):
    source = make_video(tmp_path / "[subsplease] x.mp4", size="64x48", frames=6, audio=True)
    (tmp_path / CLOSING).mkdir(parents=True)
    target = f"{CLOSING}/[subsplease] x.gif"
    run = run_anime_in_terminal("video", source.name, target, "-w", weights, cwd=tmp_path)
    screen = "\n".join(run.screen)
    assert run.returncode == 0, screen
    assert "Traceback" not in screen
    assert "Stylizing [subsplease] x.mp4" in screen  # the progress bar's description
    assert f"warning: {target}: GIF cannot hold sound" in screen
    assert f"): {target}: 6 frames" in screen


# -- item 12: odd-size video ----------------------------------------------------------------------------------

def test_odd_size_video_decodes_at_its_own_size_with_the_video_stream_first(tmp_path, weights):
    source = make_video(tmp_path / "odd.mkv", size="81x61", frames=6, audio=True,
                        codec=("-c:v", "libx264rgb", "-crf", "0", "-preset", "ultrafast"))
    result = run_anime("video", source, tmp_path / "odd.mp4", "-w", weights, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = report(tmp_path / "odd.mp4")
    streams = re.findall(r"Stream #0:(\d+).*?: (Video|Audio): (.*)", text)
    assert [(index, kind) for index, kind, _ in streams] == [("0", "Video"), ("1", "Audio")], text
    assert re.search(r"yuv444p.*, 81x61", streams[0][2]) and "Cropping" not in text, text
    # What a decoder returns, whatever the file says: ffmpeg's raw frames, counted in bytes.
    raw = subprocess.run([FFMPEG, "-v", "error", "-i", tmp_path / "odd.mp4", "-map", "0:v:0", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    assert len(raw) == 6 * 81 * 61 * 3
    assert decode(tmp_path / "odd.mp4").shape == (6, 61, 81, 3)


# -- item 4 and 13: training — the bar at 80 columns, the Ctrl-C summary, resume, hints ---------------------

def _options_named(text: str) -> set:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", text))


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory, shared):
    """A GAN-only run (2 epochs of 4 steps) started offline with --vgg on an 80-column terminal, given a
    Ctrl-C once its first step is logged."""
    root = tmp_path_factory.mktemp("train")
    make_dataset(root / "data", photos=8, style_images=8, size=32)
    run_dir = root / "runs" / "Sakura" / "a"
    sent = []

    def interrupt_after_first_step(_, process):
        log = run_dir / "log.jsonl"
        if not sent and log.is_file() and log.read_text().strip():
            process.send_signal(signal.SIGINT)
            sent.append(True)

    run = run_anime_in_terminal(
        "train", "--style", "Sakura", "--data-dir", "data", "--img-size", "32", "--batch-size", "2",
        "--epochs", "2", "--init-epochs", "0", "--vgg", shared / VGG_H5, "--out", "runs", "--name", "a",
        "--device", "cpu", cwd=root, env={"ANIME_OFFLINE": "1", "ANIME_HOME": str(root / "home")},
        on_output=interrupt_after_first_step, timeout=1200)
    assert run.returncode == 130 and (run_dir / "train_state.ckpt").is_file(), "\n".join(run.screen)
    return run, run_dir, root


def test_training_bar_fits_80_columns_with_the_losses_on_their_own_line(interrupted_run):
    run, _, _ = interrupted_run
    screen = run.screen  # a line rich made longer than 80 columns would wrap here, splitting the bar
    bar = next((i for i, line in enumerate(screen) if line.startswith("gan epoch 1/2")), None)
    assert bar is not None, "\n".join(screen)
    assert "…" not in screen[bar] and re.search(r" \d/4 +\d+% .* eta ", screen[bar]), screen[bar]
    for loss in ("g_total", "d_total", "g_adv", "g_con"):
        assert re.search(rf"\b{loss} [-\d.e+]+", screen[bar + 1]), screen[bar + 1]


def test_ctrl_c_summary_numbers_the_epoch_as_the_log_does(interrupted_run):
    run, run_dir, _ = interrupted_run
    text = "\n".join(run.screen)
    match = re.search(r"interrupted at epoch (\d+)/2, step (\d+)", text)
    assert match, text
    epoch, step = map(int, match.groups())
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == step and step % 4, text  # stopped inside an epoch
    assert records[-1]["epoch"] == epoch == 1, text
    assert f"continue with: anime train --resume {run_dir.relative_to(run_dir.parents[2])}" in text


def test_ctrl_c_saves_a_resumable_state_where_the_log_stops(interrupted_run):
    """The checkpoint written on Ctrl-C holds exactly the steps the log shows (epochs of 4 steps)."""
    from animecli.training.checkpoint import load_state

    run, run_dir, _ = interrupted_run
    assert "interrupted: saving a checkpoint" in "\n".join(run.screen)
    steps = len((run_dir / "log.jsonl").read_text().splitlines())
    _, state = load_state(run_dir / "train_state.ckpt")
    assert state.global_step == steps >= 1
    assert (state.epoch, state.step_in_epoch) == divmod(steps, 4)


def test_resume_keeps_the_vgg_file_the_run_started_with(interrupted_run, shared):
    _, run_dir, root = interrupted_run
    result = run_anime("train", "--resume", run_dir, "--dry-run", cwd=root, env={"ANIME_OFFLINE": "1"})
    assert json.loads(result.stdout)["config"]["vgg"] == str((shared / VGG_H5).absolute())
    moved = run_anime("train", "--resume", run_dir, "--vgg", root / "elsewhere.h5", "--epochs", "3", "--dry-run",
                      cwd=root)
    assert json.loads(moved.stdout)["config"]["vgg"] == str(root / "elsewhere.h5")  # a moved file may be named


def test_every_hint_names_options_the_command_has(tmp_path, interrupted_run, weights):
    _, run_dir, root = interrupted_run
    offline = {"ANIME_OFFLINE": "1"}
    make_dataset(tmp_path / "dataset", photos=4, style_images=4, size=32)
    source = make_video(tmp_path / "clip.mp4", size="64x48", frames=2)
    (tmp_path / "pictures").mkdir()
    _picture(tmp_path / "photo.jpg")
    cases = [
        ("infer", "photo.jpg", "out/", "--style", "Hayao"),  # not cached, offline
        ("video", source.name, "out.mp4", "--style", "Hayao"),
        ("download-weights", "Hayao"),
        ("train", "--style", "Sakura", "--device", "cpu"),  # the registry's vgg19, not cached
        ("train", "--style", "Sakura", "--data-dir", "missing", "--dry-run"),
        ("train", "--resume", run_dir, "--batch-size", "8", "--dry-run"),  # a setting a resume cannot change
        ("smooth", "pictures"),  # no style/ folder in it
    ]
    for name, *args in cases:
        result = run_anime(name, *args, cwd=tmp_path, env=offline)
        hints = [line for line in result.stderr.splitlines() if line.startswith("hint:")]
        assert hints, (name, args, result.stderr)
        named = _options_named(result.stderr)
        assert named and named <= set(_command_options(name)), (name, args, result.stderr)
