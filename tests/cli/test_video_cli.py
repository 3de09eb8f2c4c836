"""``anime video`` end to end with the random-weight generator (real subprocesses, real files, real ffmpeg)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest

from animecli import images
from animecli.video.probe import probe
from tests.support.cli import run_anime
from tests.support.paths import PROJECT_ROOT
from tests.support.video_tools import audio_seconds, decode, ffmpeg_processes_mentioning, packets, report


@pytest.fixture
def bl_weights(fixtures):
    return fixtures / "generator" / "random_generator_bl.pt"


@pytest.fixture
def pan(fixtures):
    return fixtures / "video" / "pan_with_audio.mp4"


def test_every_frame_equals_anime_infer_and_timing_size_audio_are_kept(pan, bl_weights, tmp_path):
    out = tmp_path / "styled.mkv"
    result = run_anime("video", pan, out, "--weights", bl_weights, "--max-size", 64, "--batch-size", 8,
                       "--codec", "libx264rgb", "--crf", 0)
    assert result.returncode == 0, result.stderr
    assert re.search(r"48 frames, 2\.00 s at 24 fps, 320x240, audio copied", result.stderr), result.stderr
    info = probe(out)
    assert (info.packets, info.rate, info.frame_size) == (48, Fraction(24), (320, 240))
    assert "Audio: aac" in report(out) and abs(audio_seconds(out) - audio_seconds(pan)) <= 1 / 24

    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    for index, frame in enumerate(decode(pan)):
        images.write_image(frames_dir / f"{index:02d}.png", frame)
    infer = run_anime("infer", frames_dir, tmp_path / "inferred", "--weights", bl_weights, "--max-size", 64,
                      "--quiet")
    assert infer.returncode == 0, infer.stderr
    expected = np.stack([images.read_image(tmp_path / "inferred" / f"{i:02d}.png") for i in range(48)]).astype(int)
    produced = decode(out).astype(int)
    assert produced.shape == expected.shape == (48, 240, 320, 3)
    # Lossless RGB: exactly the pixels of `anime infer` (one engine, one policy).
    assert np.array_equal(produced, expected)


def test_default_mp4_segment_with_brightness(pan, bl_weights, tmp_path):
    out = tmp_path / "segment.mp4"
    result = run_anime("video", pan, out, "--weights", bl_weights, "--max-size", 48, "--start", 0.5, "--end", 1.0,
                       "--brightness", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "frames" not in result.stderr  # --quiet: no summary
    text = report(out)
    assert re.search(r"Video: h264 \(High\).*yuv420p.*320x240.*24 fps", text) and "Audio: aac" in text, text
    assert len(packets(out, "v:0")) == 12
    assert abs(audio_seconds(out) - 0.5) <= 1 / 24
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segment.mp4"]


def test_errors_are_one_line_and_leave_nothing(pan, bl_weights, tmp_path):
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep")
    cases = [
        ((tmp_path / "missing.mp4", tmp_path / "o.mp4"), "missing.mp4: no such file"),
        ((pan, existing), "exists.mp4: already exists"),
        ((pan, tmp_path / "o.mp4", "--codec", "ffv1"), "cannot hold ffv1"),
        ((pan, tmp_path / "o.mp4", "--end", "0"), "the segment is empty"),
    ]
    for args, message in cases:
        result = run_anime("video", *args, "--weights", bl_weights)
        assert result.returncode == 1, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[0].startswith("error:") and message in lines[0], result.stderr
    assert existing.read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.mp4"]


def test_truncated_input_exits_1_after_writing_what_decoded(bl_weights, tmp_path):
    from tests.support.video_tools import make_video

    whole = make_video(tmp_path / "whole.mp4", frames=48, audio=True, extra=("-movflags", "+faststart"))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    out = tmp_path / "out.mp4"
    result = run_anime("video", cut, out, "--weights", bl_weights, "--max-size", 32)
    assert result.returncode == 1
    assert re.search(r"error: .*cut\.mp4: truncated or damaged: decoded \d+ of 48 frames", result.stderr), \
        result.stderr
    assert 0 < len(decode(out)) < 48


def test_ctrl_c_exits_130_with_no_output_no_temp_file_no_ffmpeg(pan, bl_weights, tmp_path):
    out_dir, cwd = tmp_path / "out", tmp_path / "cwd"
    out_dir.mkdir()
    cwd.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "animecli", "video", str(pan), str(out_dir / "out.mp4"),
                                "--weights", str(bl_weights), "--max-size", "128"], env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
                               cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not any(out_dir.iterdir()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()
    time.sleep(3)  # inside MindSpore's graph compilation or run (whose own SIGINT handler sends SIGTERM)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    assert list(out_dir.iterdir()) == [] and list(cwd.iterdir()) == []
    assert ffmpeg_processes_mentioning(str(out_dir)) == []
