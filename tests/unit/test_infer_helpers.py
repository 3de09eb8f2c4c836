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
from tests.recorder import Recorder


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
    alone, _ = plan_jobs([str(source)], tmp_path / "alone")
    alone_result = run_infer(alone, stylizer, InferOptions())
    assert len(alone_result.done) == 4

    shared, _ = plan_jobs([str(source)], tmp_path / "shared")

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
    jobs, _ = plan_jobs([str(source)], tmp_path / "out")
    reporter = Recorder()
    helpers = infer_helpers.HelperProcesses(1, bl_weights, "cpu", {"no_such_setting": 1}, InferOptions())
    result = run_infer(jobs, stylizer, InferOptions(), reporter=reporter, helpers=helpers)

    assert len(result.done) == 3 and not result.failed
    assert len(reporter.warnings) == 1
    assert "helper process stopped" in reporter.warnings[0] and "no_such_setting" in reporter.warnings[0]
