"""``anime infer --workers 2``: a helper process shares the pictures; Ctrl-C stops both cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np

from animecli import images
from tests.support.cli import run_anime
from tests.support.paths import PROJECT_ROOT


def _photos(fixtures, folder, count, size):
    folder.mkdir(parents=True, exist_ok=True)
    rgb = images.read_image(fixtures / "photos" / "astronaut.png")
    for index in range(count):
        shifted = np.roll(rgb, 7 * index, axis=1)
        images.write_image(folder / f"p{index}.png", cv2.resize(shifted, size, interpolation=cv2.INTER_AREA))
    return folder


def test_two_processes_give_the_pictures_of_one(fixtures, tmp_path):
    weights = fixtures / "generator" / "random_generator_bl.pt"
    source = _photos(fixtures, tmp_path / "in", 4, (72, 56))
    two = run_anime("infer", source, tmp_path / "two", "--weights", weights, "--workers", "2")
    one = run_anime("infer", source, tmp_path / "one", "--weights", weights, "-j", "1")
    assert two.returncode == 0 and one.returncode == 0, two.stderr + one.stderr
    assert "2 processes" in " ".join(two.stderr.split())  # the summary's title (rich may wrap it)
    assert "2 processes" not in " ".join(one.stderr.split())
    assert "leaked" not in two.stderr  # the job queue's semaphores are released before the fast exit
    for index in range(4):
        name = f"p{index}.png"
        np.testing.assert_array_equal(images.read_image(tmp_path / "two" / name),
                                      images.read_image(tmp_path / "one" / name))
    # A re-run with one picture left to do starts no helper.
    (tmp_path / "two" / "p3.png").unlink()
    again = run_anime("infer", source, tmp_path / "two", "--weights", weights, "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert "2 processes" not in " ".join(again.stderr.split()) and "skipped" in again.stderr.lower()
    assert (tmp_path / "two" / "p3.png").is_file()


def test_the_default_process_count_follows_the_machine(fixtures, tmp_path):
    from animecli.pipelines.infer_helpers import default_processes

    weights = fixtures / "generator" / "random_generator_bl.pt"
    source = _photos(fixtures, tmp_path / "in", 3, (72, 56))
    run = run_anime("infer", source, tmp_path / "out", "--weights", weights)
    assert run.returncode == 0, run.stderr
    assert ("2 processes" in " ".join(run.stderr.split())) == (default_processes("cpu") == 2)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p1.png", "p2.png"]


def test_ctrl_c_stops_the_helper_too_and_leaves_no_temporary_file(fixtures, tmp_path):
    weights = fixtures / "generator" / "random_generator_bl.pt"
    source = _photos(fixtures, tmp_path / "in", 12, (384, 288))
    out_dir, cwd = tmp_path / "out", tmp_path / "cwd"
    cwd.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("GLOG_log_dir", "MS_COMPILER_CACHE_PATH")}
    process = subprocess.Popen(
        [sys.executable, "-m", "animecli", "infer", str(source), str(out_dir), "--weights", str(weights), "-j", "2"],
        env={**env, "PYTHONPATH": str(PROJECT_ROOT)}, cwd=cwd, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out_dir.is_dir() and any(out_dir.glob("p*.png"))) and process.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()  # both processes are stylizing: 12 pictures to go
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the helper is gone with the main process
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("a process of the run is still alive after Ctrl-C")
    written = list(out_dir.iterdir())
    assert 0 < len(written) < 12
    assert all(p.name.startswith("p") and p.suffix == ".png" for p in written)  # no temporary file
    assert "leaked" not in stderr
    assert list(cwd.iterdir()) == []
