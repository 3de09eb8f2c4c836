"""The video pipeline with a simple frame function (colour inversion) on real files and the real ffmpeg."""

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

from animecli.errors import InvalidInputError
from animecli.pipelines.video import VideoOptions, prepare_video, run_video
from animecli.video.probe import probe
from animecli.video.reader import FrameReader
from tests.support.paths import PROJECT_ROOT
from tests.support.recorder import Recorder
from tests.support.video_tools import (audio_seconds, decode, ffmpeg, ffmpeg_children, ffmpeg_processes_mentioning,
                               make_video, packets, psnr, report, time_base)


def invert(frames):
    return [255 - frame for frame in frames]


def convert(source, output, frame_function=invert, reporter=None, **options):
    job = prepare_video(source, output, VideoOptions(**options))
    return run_video(job, frame_function, reporter=reporter)


@pytest.fixture
def pan(fixtures):
    return fixtures / "video" / "pan_with_audio.mp4"


def leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_reader_decodes_every_frame_like_ffmpeg(pan):
    frames = np.stack(list(FrameReader(probe(pan))))
    assert frames.shape == (48, 240, 320, 3)
    assert np.array_equal(frames, decode(pan))


def test_pan_with_audio_keeps_frames_rate_size_and_copies_the_audio(pan, tmp_path):
    out = tmp_path / "out.mp4"
    recorder = Recorder()
    result = convert(pan, out, reporter=recorder)

    assert (result.frames, result.expected_frames, result.rate, result.size) == (48, 48, Fraction(24), (320, 240))
    assert result.audio == "copied" and result.damaged is None
    assert recorder.total == 48 and recorder.done == 48 and not recorder.warnings
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    text = report(out)
    assert re.search(r"Video: h264 .*yuv420p.*, 320x240", text), text
    assert re.search(r"Audio: aac", text), text
    video, tick = packets(out, "v:0"), Fraction(time_base(out, "v:0"))
    assert len(video) == 48 and {1 / (int(row[3]) * tick) for row in video} == {24}
    # The AAC packets are the source's, byte for byte (copied, not re-encoded), and last as long as the video.
    assert [row[5] for row in packets(out, "a:0")] == [row[5] for row in packets(pan, "a:0")]
    assert abs(audio_seconds(out) - 2.0) <= 1 / 24
    expected = 255 - decode(pan)
    produced = decode(out)
    assert produced.shape == expected.shape
    assert min(psnr(a, b) for a, b in zip(produced, expected)) > 35


def test_lossless_output_equals_the_frame_function_exactly(pan, tmp_path):
    out = tmp_path / "out.mkv"
    result = convert(pan, out, codec="libx264rgb", crf=0)
    assert result.frames == 48
    assert np.array_equal(decode(out), 255 - decode(pan))
    assert "Audio: aac" in report(out)


def test_segment_start_end_trims_video_and_audio(pan, tmp_path):
    out = tmp_path / "segment.mkv"
    result = convert(pan, out, start=0.5, end=1.5, codec="ffv1")
    assert result.frames == 24 and result.expected_frames == 24
    assert np.array_equal(decode(out), 255 - decode(pan)[12:36])
    assert abs(audio_seconds(out) - 1.0) <= 1 / 24
    # The same with H.264 (B-frames, timestamps that start before the first shown frame).
    mp4 = tmp_path / "segment.mp4"
    assert convert(pan, mp4, start=0.5, end=1.5).frames == 24
    produced, expected = decode(mp4), 255 - decode(pan)[12:36]
    assert produced.shape == expected.shape
    assert min(psnr(a, b) for a, b in zip(produced, expected)) > 35
    assert abs(audio_seconds(mp4) - 1.0) <= 1 / 24
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segment.mkv", "segment.mp4"]


def test_no_audio_option_and_input_without_audio(pan, tmp_path):
    result = convert(pan, tmp_path / "silent.mp4", audio=False)
    assert result.audio == "dropped"
    assert "Audio" not in report(tmp_path / "silent.mp4")
    silent = make_video(tmp_path / "silent_in.mp4")
    result = convert(silent, tmp_path / "silent_out.mp4")
    assert result.audio == "none" and result.frames == 12


def test_odd_size_and_ntsc_rate_are_kept(tmp_path):
    source = make_video(tmp_path / "odd.mkv", size="321x241", rate="30000/1001", frames=15,
                        codec=("-c:v", "libx264rgb", "-crf", "0", "-preset", "ultrafast"))
    info = probe(source)
    assert (info.frame_size, info.rate, info.variable_rate) == ((321, 241), Fraction(30000, 1001), False)

    out = tmp_path / "odd.mp4"
    result = convert(source, out)
    assert result.frames == 15 and result.size == (321, 241)
    # H.264 4:2:0 needs even sizes: coded 4:4:4 at exactly 321x241, no container cropping.
    text = report(out)
    assert re.search(r"Video: h264 \(High 4:4:4 Predictive\).*yuv444p.*, 321x241", text) and "Cropping" not in text
    written = probe(out)
    assert written.frame_size == (321, 241) and written.rate == Fraction(30000, 1001)
    assert [row[3] for row in packets(out, "v:0")] == ["1001"] * 15 and time_base(out, "v:0") == "1/30000"
    produced = np.stack(list(FrameReader(written)))
    expected = 255 - decode(source)
    assert produced.shape == expected.shape == (15, 241, 321, 3)
    assert min(psnr(a, b) for a, b in zip(produced, expected)) > 30
    # The last column matches like the rest of the frame.
    edge_error = np.abs(produced[:, :, -1].astype(int) - expected[:, :, -1]).mean()
    assert edge_error < 3 * np.abs(produced.astype(int) - expected).mean() + 1

    lossless = tmp_path / "odd_lossless.mkv"
    convert(source, lossless, codec="ffv1")
    assert np.array_equal(decode(lossless), expected)


def test_rotated_phone_video_keeps_its_rotation_and_frames_are_stylized_upright(tmp_path):
    plain = make_video(tmp_path / "plain.mp4", size="160x96", frames=6)
    phone = tmp_path / "phone.mp4"
    ffmpeg("-display_rotation", "90", "-i", plain, "-c", "copy", phone)
    shapes = set()

    def upright_invert(frames):
        shapes.update(frame.shape for frame in frames)
        return invert(frames)

    out = tmp_path / "out.mkv"
    result = convert(phone, out, upright_invert, codec="ffv1")
    assert shapes == {(160, 96, 3)} and result.size == (96, 160)
    assert "rotation of 90.00 degrees" in report(out)
    assert np.array_equal(decode(out), 255 - decode(phone))  # stored the same way
    # Shown the same (ffmpeg rotates the source in YUV and ours in RGB: rounding differs by one level).
    shown = decode(out, autorotate=True).astype(int) - (255 - decode(phone, autorotate=True))
    assert np.abs(shown).max() <= 1

    gif = tmp_path / "out.gif"
    convert(phone, gif)
    assert decode(gif).shape == (6, 160, 96, 3)  # GIF has no rotation flag: written upright


def test_gif_in_and_out(pan, tmp_path):
    gif = tmp_path / "pan.gif"
    ffmpeg("-i", pan, "-t", "1", "-vf", "scale=160:120", gif)
    out = tmp_path / "out.gif"
    recorder = Recorder()
    result = convert(gif, out, reporter=recorder)
    assert result.frames == 24 and result.audio == "none"
    produced, source = decode(out), decode(gif)
    assert produced.shape == source.shape == (24, 120, 160, 3)
    # A GIF frame has at most 256 colours, so does its inverse: the per-frame palettes hold them exactly.
    assert np.array_equal(produced, 255 - source)

    mp4 = tmp_path / "from_gif.mp4"
    convert(gif, mp4)
    assert len(decode(mp4)) == 24

    with_sound = tmp_path / "sound.gif"
    recorder = Recorder()
    result = convert(pan, with_sound, reporter=recorder, end=0.5)
    assert result.audio == "dropped" and any("GIF cannot hold sound" in w for w in recorder.warnings)


def test_variable_frame_rate_is_written_at_a_constant_average_rate(tmp_path):
    source = tmp_path / "vfr.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x96:rate=30", "-frames:v", 20,
           "-vf", "setpts='if(lt(N,10),N/30,10/30+(N-10)/10)/TB'", "-fps_mode", "vfr", "-c:v", "libx264",
           "-preset", "ultrafast", "-video_track_timescale", "90000", source)
    info = probe(source)
    assert info.variable_rate
    recorder = Recorder()
    out = tmp_path / "cfr.mp4"
    result = convert(source, out, reporter=recorder)
    assert any("variable frame rate" in w for w in recorder.warnings)
    rows = packets(out, "v:0")
    assert len({row[3] for row in rows}) == 1  # every frame lasts the same
    written = probe(out)
    assert not written.variable_rate and written.rate == info.rate
    assert abs(written.duration - info.duration) <= 1.5 / float(info.rate)
    assert result.frames == len(rows)


def test_truncated_input_stylizes_what_decodes_and_reports_the_rest(tmp_path):
    whole = make_video(tmp_path / "whole.mp4", size="160x96", frames=48, audio=True,
                       extra=("-movflags", "+faststart"))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 5])
    out = tmp_path / "out.mp4"
    result = convert(cut, out)
    assert result.damaged and "truncated or damaged" in result.damaged and str(cut) in result.damaged
    assert 0 < result.frames < 48 and result.expected_frames == 48
    assert len(decode(out)) == result.frames

    no_index = make_video(tmp_path / "no_index.mp4", frames=48)
    no_index.write_bytes(no_index.read_bytes()[: no_index.stat().st_size // 2])
    with pytest.raises(InvalidInputError, match="no_index.mp4: truncated or damaged video"):
        convert(no_index, tmp_path / "never.mp4")
    assert not (tmp_path / "never.mp4").exists()


def test_bad_inputs_and_outputs_are_refused_before_any_work(pan, fixtures, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    sound = tmp_path / "sound.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440", "-t", "0.5", "-c:a", "aac", sound)
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep me")
    cases = [
        (tmp_path / "missing.mp4", tmp_path / "a.mp4", {}, "missing.mp4: no such file"),
        (text, tmp_path / "a.mp4", {}, "notes.mp4: not a readable video"),
        (sound, tmp_path / "a.mp4", {}, "sound.m4a: has no video stream"),
        (fixtures / "photos" / "chelsea.png", tmp_path / "a.mp4", {}, "is a still picture"),
        (pan, existing, {}, "exists.mp4: already exists .use --overwrite"),
        (pan, tmp_path / "a.avi", {}, "unsupported output type .avi"),
        (pan, tmp_path / "a.mp4", {"codec": "ffv1"}, r"\.mp4 files cannot hold ffv1; use \.mkv"),
        (pan, tmp_path / "a.webm", {"codec": "libx264"}, "cannot hold libx264"),
        (pan, tmp_path / "a.mp4", {"crf": 60}, "--crf for libx264 goes from 0 to 51"),
        (pan, tmp_path / "a.mkv", {"codec": "ffv1", "crf": 3}, "lossless"),
        (pan, tmp_path / "a.mp4", {"preset": "fastest"}, "unknown preset fastest"),
        (pan, tmp_path / "a.gif", {"codec": "libx264"}, "do not apply to GIF"),
        (pan, tmp_path / "a.mp4", {"start": 1.0, "end": 0.5}, "segment is empty"),
        (pan, tmp_path / "a.mp4", {"start": 5.0}, "past the end"),
    ]
    for source, output, options, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            prepare_video(source, output, VideoOptions(**options))
    same = tmp_path / "same.mp4"
    same.write_bytes(pan.read_bytes())
    with pytest.raises(InvalidInputError, match="is the input"):
        prepare_video(same, same, VideoOptions(overwrite=True))
    assert existing.read_bytes() == b"keep me"
    assert leftovers(tmp_path, {"notes.mp4", "sound.m4a", "exists.mp4", "same.mp4"}) == []


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyboardInterrupt()])
def test_an_error_or_ctrl_c_leaves_no_output_no_temp_file_and_no_ffmpeg(pan, tmp_path, failure):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old result")
    calls = []

    def fails_on_third_batch(frames):
        calls.append(len(frames))
        if len(calls) == 3:
            raise failure
        return invert(frames)

    with pytest.raises(type(failure)):
        convert(pan, out, fails_on_third_batch, overwrite=True)
    assert out.read_bytes() == b"old result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
    assert ffmpeg_children() == []


_SLOW_CONVERSION = """
import sys, time
from animecli.pipelines.video import VideoOptions, prepare_video, run_video
job = prepare_video(sys.argv[1], sys.argv[2], VideoOptions(batch_size=1))
run_video(job, lambda frames: time.sleep(0.2) or [255 - f for f in frames])
"""


def test_sigint_mid_run_leaves_no_output_no_temp_file_and_no_ffmpeg(pan, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    process = subprocess.Popen([sys.executable, "-c", _SLOW_CONVERSION, str(pan), str(out_dir / "out.mp4")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not any(out_dir.iterdir()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()
    time.sleep(0.5)  # well inside the run: 48 frames take about 10 s
    assert ffmpeg_processes_mentioning(str(out_dir)), "the encoder should be running"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0 and b"KeyboardInterrupt" in stderr
    assert list(out_dir.iterdir()) == []
    assert ffmpeg_processes_mentioning(str(out_dir)) == [] and ffmpeg_processes_mentioning(str(pan)) == []


def test_memory_stays_bounded_whatever_the_length(tmp_path):
    import tracemalloc

    source = make_video(tmp_path / "long.mp4", size="320x240", frames=240)
    frame_bytes = 320 * 240 * 3
    tracemalloc.start()
    try:
        # A frame function slower than decoding: an unbounded reader would run ahead and pile frames up.
        result = convert(source, tmp_path / "out.mp4", lambda frames: time.sleep(0.01) or invert(frames),
                         batch_size=2, preset="ultrafast")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.frames == 240
    # All frames would be 240 x 230 kB = 55 MB; the queues hold a few batches.
    assert peak < 30 * frame_bytes, peak
