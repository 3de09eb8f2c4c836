"""Run outputs: the JSONL loss log (kept consistent on resume), the loss chart and the sample grid."""

from __future__ import annotations

import json

import cv2
import numpy as np

from animecli.training.plots import loss_chart, loss_keys, sample_grid, write_png
from animecli.training.runlog import LossLog


def _records(n, first=1):
    return [{"step": s, "epoch": 1, "phase": "init" if s <= 3 else "gan", "time": float(s),
             **({"con": 10.0 / s} if s <= 3 else {"g_total": 5.0 + s, "d_total": 2.0})}
            for s in range(first, first + n)]


def test_log_appends_one_json_object_per_step(tmp_path):
    log = LossLog(tmp_path / "log.jsonl")
    for record in _records(5):
        log.append(record)
    log.close()
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4, 5]


def test_resumed_log_drops_steps_after_the_checkpoint(tmp_path):
    path = tmp_path / "log.jsonl"
    log = LossLog(path)
    for record in _records(5):
        log.append(record)
    log.close()
    with open(path, "a") as handle:
        handle.write('{"step": 6, "epo')  # cut short by a crash
    resumed = LossLog(path, keep_until_step=3)
    assert [r["step"] for r in resumed.records] == [1, 2, 3]
    resumed.append(_records(1, first=4)[0])
    resumed.close()
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2, 3, 4]


def test_new_run_starts_an_empty_log(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps(_records(1)[0]) + "\n")
    LossLog(path).close()
    assert path.read_text() == ""


def test_loss_chart_has_a_panel_per_loss(tmp_path):
    records = _records(8)
    assert loss_keys(records) == ["con", "g_total", "d_total"]
    chart = loss_chart(records)
    assert chart.ndim == 3 and chart.shape[2] == 3 and chart.shape[1] == 3 * 420
    write_png(tmp_path / "loss.png", chart)
    back = cv2.imread(str(tmp_path / "loss.png"))
    assert np.array_equal(back, chart)
    assert not list(tmp_path.glob(".*"))  # no temp file left


def test_loss_chart_survives_a_single_point():
    assert loss_chart(_records(1)).shape[0] > 0


def test_sample_grid_puts_outputs_under_photos():
    photos = [np.full((32, 32, 3), 10 * i, np.uint8) for i in range(3)]
    outputs = [np.full((32, 32, 3), 200, np.uint8) for _ in range(3)]
    grid = sample_grid(photos, outputs, caption="epoch 1")
    assert grid.shape == (24 + 2 * 40, 3 * 40, 3)
    assert (grid[24 + 40 + 4:24 + 40 + 36, 4:36] == 200).all()
