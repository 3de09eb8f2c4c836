"""Helper processes of ``anime infer``: they share the jobs, give the same pictures, and a helper that
cannot start leaves its share to the main process."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from animecli import images
from animecli.pipelines import infer_helpers
from animecli.pipelines.infer import InferOptions, plan_jobs, run_infer
from tests.support.recorder import Recorder


@pytest.fixture(scope="module")
def bl_weights(fixtures):
    from animecli.weights.resolve import read_generator_file

    return read_generator_file(fixtures / "generator" / "random_generator_bl.pt")


@pytest.fixture(scope="module")
def stylizer(bl_weights):
    from animecli.stylize import build_stylizer

    return build_stylizer(bl_weights, "cpu")


def _photos(fixtures, folder, sizes):
    folder.mkdir(parents=True, exist_ok=True)
    rgb = images.read_image(fixtures / "photos" / "chelsea.png")
    for index, size in enumerate(sizes):
        images.write_image(folder / f"p{index}.png", cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
    return folder


def test_a_helper_takes_jobs_from_the_shared_queue_and_writes_the_same_pictures(
        fixtures, tmp_path, bl_weights, stylizer):
    source = _photos(fixtures, tmp_path / "in", [(64, 48), (64, 48), (40, 56), (64, 48)])
    alone, _, _ = plan_jobs([str(source)], tmp_path / "alone")
    alone_result = run_infer(alone, stylizer, InferOptions())
    assert len(alone_result.done) == 4

    shared, _, _ = plan_jobs([str(source)], tmp_path / "shared")

    def wait_for_the_helper(rgb):
        # This process holds its first job until the helper has written the other three.
        deadline = time.monotonic() + 300
        while len(list((tmp_path / "shared").glob("*.png"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        return stylizer(rgb)

    reporter = Recorder()
    helpers = infer_helpers.HelperProcesses(1, bl_weights, "cpu", {}, InferOptions())
    result = run_infer(shared, wait_for_the_helper, InferOptions(), reporter=reporter, helpers=helpers)

    assert sorted(job.target.name for job in result.done) == ["p0.png", "p1.png", "p2.png", "p3.png"]
    assert not result.failed and not reporter.warnings
    assert reporter.done == 4
    assert len(helpers.stats) == 1 and helpers.stats[0].pictures == 3
    for job in alone:
        expected = images.read_image(job.target)
        np.testing.assert_array_equal(images.read_image(tmp_path / "shared" / job.target.name), expected)
    assert not list((tmp_path / "shared").glob(".*"))  # no temporary file left


def test_a_helper_that_cannot_start_is_reported_and_its_share_is_done_here(
        fixtures, tmp_path, bl_weights, stylizer):
    source = _photos(fixtures, tmp_path / "in", [(64, 48)] * 3)
    jobs, _, _ = plan_jobs([str(source)], tmp_path / "out")
    reporter = Recorder()
    helpers = infer_helpers.HelperProcesses(1, bl_weights, "cpu", {"no_such_setting": 1}, InferOptions())
    result = run_infer(jobs, stylizer, InferOptions(), reporter=reporter, helpers=helpers)

    assert len(result.done) == 3 and not result.failed
    assert len(reporter.warnings) == 1
    assert "helper process stopped" in reporter.warnings[0] and "no_such_setting" in reporter.warnings[0]


def test_large_pictures_stay_in_the_main_process(fixtures, tmp_path, bl_weights, stylizer):
    source = _photos(fixtures, tmp_path / "in", [(64, 48), (80, 64), (64, 48), (64, 48)])
    jobs, _, _ = plan_jobs([str(source)], tmp_path / "out")
    large = [job for job in jobs if job.source.name == "p1.png"]
    taken_here = []

    def recording(rgb):
        taken_here.append(rgb.shape)
        return stylizer(rgb)

    helpers = infer_helpers.HelperProcesses(1, bl_weights, "cpu", {}, InferOptions(), main_only=large)
    result = run_infer(jobs, recording, InferOptions(), helpers=helpers)
    assert len(result.done) == 4 and not result.failed
    assert taken_here[0] == (64, 80, 3)  # this process runs its own (large) pictures first
    assert sum(stats.pictures for stats in helpers.stats) + len(taken_here) == 4
    assert all(stats.whole_first_call.keys() <= {(48, 64)} for stats in helpers.stats)  # never 80x64


def test_which_pictures_helpers_may_take(fixtures, tmp_path):
    source = _photos(fixtures, tmp_path / "in", [(1024, 768), (960, 640), (1280, 720)])
    images.write_image(source / "p3.bmp", images.read_image(source / "p2.png"))  # size not read from BMP headers
    jobs, _, _ = plan_jobs([str(source)], tmp_path / "out")
    names = lambda selected: sorted(job.source.name for job in selected)  # noqa: E731
    assert infer_helpers.SHARED_MAX_PIXELS == 750_000
    assert names(infer_helpers.main_process_jobs(jobs, None)) == ["p0.png", "p2.png"]
    # --max-size 1000: 1024x768 becomes 1000x750 (just at the limit), 1280x720 becomes 1000x563
    assert names(infer_helpers.main_process_jobs(jobs, 1000)) == ["p0.png"]
    assert names(infer_helpers.main_process_jobs(jobs, 1000, crop_size=512)) == []  # face models: 512x512
    assert names(infer_helpers.main_process_jobs(jobs, None, crop_size=1024)) == names(jobs)


def test_default_process_count(monkeypatch):
    monkeypatch.setattr(infer_helpers, "default_workers", lambda: 2)
    monkeypatch.setattr(infer_helpers, "_available_memory", lambda: infer_helpers.MEMORY_FOR_HELPERS)
    assert infer_helpers.default_processes("cpu") == 2
    assert infer_helpers.default_processes("auto") == 2
    assert infer_helpers.default_processes("gpu") == 1
    monkeypatch.setattr(infer_helpers, "_available_memory", lambda: infer_helpers.MEMORY_FOR_HELPERS - 1)
    assert infer_helpers.default_processes("cpu") == 1
    monkeypatch.setattr(infer_helpers, "_available_memory", lambda: None)
    assert infer_helpers.default_processes("cpu") == 1
    monkeypatch.setattr(infer_helpers, "default_workers", lambda: 1)
    monkeypatch.setattr(infer_helpers, "_available_memory", lambda: infer_helpers.MEMORY_FOR_HELPERS)
    assert infer_helpers.default_processes("cpu") == 1


def test_plan_processes(fixtures, tmp_path, monkeypatch):
    source = _photos(fixtures, tmp_path / "in", [(1024, 768), (64, 48), (1280, 720), (64, 48)])
    jobs, _, _ = plan_jobs([str(source)], tmp_path / "out")
    large = [jobs[0], jobs[2]]
    assert infer_helpers.plan_processes(2, "cpu", jobs, None) == (2, large)
    assert infer_helpers.plan_processes(3, "cpu", jobs, None) == (3, large)  # two helpers for two small pictures
    assert infer_helpers.plan_processes(4, "cpu", jobs, None) == (3, large)
    assert infer_helpers.plan_processes(2, "cpu", large, None) == (1, large)  # nothing a helper may take
    assert infer_helpers.plan_processes(1, "cpu", jobs, None) == (1, [])
    assert infer_helpers.plan_processes(2, "cpu", jobs[:1], None) == (1, [])  # one picture: one process
    monkeypatch.setattr(infer_helpers, "default_processes", lambda device: 2 if device == "cpu" else 1)
    assert infer_helpers.plan_processes(None, "cpu", jobs, None) == (2, large)
    assert infer_helpers.plan_processes(None, "gpu", jobs, None) == (1, [])
