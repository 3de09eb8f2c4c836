"""``anime infer`` end to end, as a user runs it (real subprocesses, real files)."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from animecli import images
from tests.support.cli import run_anime
from tests.support.paths import PROJECT_ROOT


@pytest.fixture
def bl_weights(fixtures):
    return fixtures / "generator" / "random_generator_bl.pt"


def _small_photos(fixtures, folder, size=(64, 48)):
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("astronaut.png", "chelsea.png", "rocket.jpg"):
        rgb = images.read_image(fixtures / "photos" / name)
        images.write_image(folder / name, cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
    return folder


def _golden_as_uint8(array):
    return np.clip((array[0].transpose(1, 2, 0) + 1.0) * 127.5, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("npz, case, weights", [
    ("golden_bl.npz", "bl_align_203x317", "random_generator_bl.pt"),
    ("golden_tf.npz", "tf_200x300", "random_generator_tf"),
])
def test_infer_matches_the_reference_pictures(fixtures, tmp_path, npz, case, weights):
    golden = np.load(fixtures / "generator" / npz)
    photo = np.rint((golden[f"{case}_input"][0].transpose(1, 2, 0) + 1.0) * 127.5).astype(np.uint8)
    images.write_image(tmp_path / "in.png", photo)
    result = run_anime("infer", tmp_path / "in.png", tmp_path / "out.png", "--weights",
                       fixtures / "generator" / weights, "--quiet")
    assert result.returncode == 0, result.stderr
    produced = images.read_image(tmp_path / "out.png").astype(int)
    expected = _golden_as_uint8(golden[f"{case}_output"]).astype(int)
    assert produced.shape == expected.shape
    # Same truncation as the reference; float32 noise (<2e-4) may flip a value sitting on an integer edge.
    assert np.abs(produced - expected).max() <= 1
    assert (produced == expected).mean() > 0.99


def test_folder_batch_skips_bad_files_and_reports(fixtures, tmp_path, bl_weights):
    source = _small_photos(fixtures, tmp_path / "photos")
    (source / "sub").mkdir()
    images.write_image(source / "sub" / "odd.png", np.full((37, 53, 3), 120, np.uint8))
    (source / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (source / "notes.txt").write_text("not a picture")
    out = tmp_path / "out"

    result = run_anime("infer", source, out, "--weights", bl_weights, "--recursive", "--ext", "png")
    assert result.returncode == 1
    assert "broken.jpg" in result.stderr and "notes.txt" in result.stderr
    produced = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert produced == ["astronaut.png", "chelsea.png", "rocket.png", "sub/odd.png"]
    assert images.read_image(out / "sub" / "odd.png").shape == (37, 53, 3)
    assert images.read_image(out / "rocket.png").shape == (48, 64, 3)

    # A second run skips what exists; --overwrite redoes it.
    before = (out / "chelsea.png").stat().st_mtime_ns
    again = run_anime("infer", source / "chelsea.png", source / "astronaut.png", out, "--weights", bl_weights)
    assert again.returncode == 0, again.stderr
    assert (out / "chelsea.png").stat().st_mtime_ns == before
    assert "exists" in again.stderr
    forced = run_anime("infer", source / "chelsea.png", out, "--weights", bl_weights, "--overwrite", "-q")
    assert forced.returncode == 0, forced.stderr
    assert (out / "chelsea.png").stat().st_mtime_ns != before


def test_options_max_size_side_by_side_and_quality(fixtures, tmp_path, bl_weights):
    source = _small_photos(fixtures, tmp_path / "photos", size=(96, 64))
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    run = run_anime("infer", source / "chelsea.png", tmp_path / "small.jpg", "--weights", bl_weights,
                    "--max-size", "48", "--keep-processed-size", "--quality", "80", "-q", cwd=workdir)
    assert run.returncode == 0, run.stderr
    assert list(workdir.iterdir()) == []  # nothing but what was asked for
    assert images.read_image(tmp_path / "small.jpg").shape == (32, 48, 3)

    run = run_anime("infer", source / "chelsea.png", tmp_path / "pair.png", "--weights", bl_weights,
                    "--max-size", "48", "--side-by-side", "-q")
    assert run.returncode == 0, run.stderr
    assert images.read_image(tmp_path / "pair.png").shape == (64, 192, 3)


def test_refuses_to_overwrite_inputs_and_bad_arguments(fixtures, tmp_path, bl_weights):
    source = _small_photos(fixtures, tmp_path / "photos")
    original = (source / "chelsea.png").read_bytes()
    run = run_anime("infer", source, source, "--weights", bl_weights)
    assert run.returncode == 1
    assert "would overwrite an input" in run.stderr
    assert (source / "chelsea.png").read_bytes() == original

    missing = run_anime("infer", tmp_path / "nope", tmp_path / "out", "--weights", bl_weights)
    assert missing.returncode == 1 and "nope: no such file or folder" in missing.stderr
    assert "Traceback" not in missing.stderr

    wrong = tmp_path / "weights.bin"
    wrong.write_bytes(b"\x00" * 100)
    bad = run_anime("infer", source / "chelsea.png", tmp_path / "o.png", "--weights", wrong)
    assert bad.returncode == 1 and "weights.bin" in bad.stderr and "Traceback" not in bad.stderr

    device = run_anime("infer", source / "chelsea.png", tmp_path / "o.png", "--weights", bl_weights,
                       "--device", "gpu")
    assert device.returncode == 1 and "gpu" in device.stderr.lower()


def test_help_does_not_import_mindspore():
    code = ("import sys\nfrom animecli.cli.app import run\n"
            "for argv in (['--help'], ['infer', '--help']):\n"
            "    try:\n        run(argv)\n    except SystemExit:\n        pass\n"
            "print('mindspore' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_version():
    from animecli import __version__

    result = run_anime("--version")
    assert result.returncode == 0 and __version__ in result.stdout

