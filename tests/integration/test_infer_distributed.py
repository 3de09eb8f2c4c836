"""``anime infer --distributed`` under the real ``msrun``: two CPU workers on 127.0.0.1 against one process."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from animecli import images
from tests.support.cli import run_anime, run_msrun

pytestmark = pytest.mark.slow


def _photos(fixtures, folder):
    """Four pictures of two sizes (so two graphs compile): by pixels, one worker gets the large one and a
    small one, the other two small ones."""
    folder.mkdir(parents=True)
    names = {"astronaut.png": (96, 64), "chelsea.png": (64, 48), "rocket.jpg": (64, 48), "coffee.png": (64, 48)}
    for name, size in names.items():
        rgb = images.read_image(fixtures / "photos" / name)
        images.write_image(folder / name, cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
    return folder


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _shown(result):
    """What msrun shows: the workers' output (msrun --join tails their logs) and its own."""
    return result.stdout + result.stderr


def test_two_msrun_workers_write_each_output_once_as_one_process_does(fixtures, tmp_path):
    weights = fixtures / "generator" / "random_generator_bl.pt"
    photos = _photos(fixtures, tmp_path / "photos")
    single = run_anime("infer", photos, tmp_path / "single", "--weights", weights, "--device", "cpu")
    assert single.returncode == 0, single.stderr

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    out = tmp_path / "out"
    args = ("infer", photos, out, "--weights", weights, "--device", "cpu", "--distributed")
    first = run_msrun(*args, log_dir=tmp_path / "logs", cwd=cwd, timeout=600)
    assert first.returncode == 0, _shown(first)[-4000:]
    assert _digests(out) == _digests(tmp_path / "single")  # every output, byte for byte
    rank0 = (tmp_path / "logs" / "worker_0.log").read_text()
    rank1 = (tmp_path / "logs" / "worker_1.log").read_text()
    # The summary adds up what each worker wrote: 4 with 4 files means none was written twice.
    assert "anime infer (random_generator_bl, align)" in rank0 and "│    4 │       0 │      0 │" in rank0
    assert "anime infer" not in rank1 and "┃ done ┃" not in rank1
    assert list(cwd.iterdir()) == []  # nothing of msrun's or MindSpore's in the working directory

    # Again with two broken pictures more: the four outputs are skipped untouched; the broken two are
    # shared out (one each) and both failures reach rank 0's summary; the launcher's exit code is not 0.
    written = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    for name in ("broken1.jpg", "broken2.jpg"):
        (photos / name).write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    again = run_msrun(*args, log_dir=tmp_path / "logs2", cwd=cwd, timeout=600)
    assert again.returncode != 0
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == written
    rank0 = (tmp_path / "logs2" / "worker_0.log").read_text()
    assert "│    0 │       4 │      2 │" in rank0, rank0[-3000:]
    assert "broken1.jpg" in rank0 and "broken2.jpg" in rank0
    assert "┃ done ┃" not in (tmp_path / "logs2" / "worker_1.log").read_text()
    assert list(cwd.iterdir()) == []


def test_distributed_without_msrun_says_how_to_start_it(tmp_path):
    images.write_image(tmp_path / "a.png", np.zeros((16, 16, 3), np.uint8))
    result = run_anime("infer", tmp_path / "a.png", tmp_path / "out", "--distributed", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "error: --distributed needs MindSpore's launcher"
    assert "msrun --worker_num=2" in result.stderr and "infer ... --distributed" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
