"""Pictures of a run, drawn with OpenCV: the loss-curve chart and the sample grid (both PNG, written atomically)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Sequence

import cv2
import numpy as np

from animecli.files import atomic_write_bytes

_META_KEYS = ("step", "epoch", "phase", "time")
_PANEL_W, _PANEL_H = 420, 220
_MARGIN_L, _MARGIN_R, _MARGIN_T, _MARGIN_B = 64, 12, 26, 26
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BG, _AXIS, _RAW, _SMOOTH, _PHASE = (255, 255, 255), (90, 90, 90), (225, 200, 170), (170, 80, 20), (60, 60, 200)


def write_png(path: Path, image_bgr: np.ndarray) -> None:
    """Encode ``image_bgr`` as PNG and replace ``path`` atomically."""
    ok, data = cv2.imencode(".png", image_bgr)
    if not ok:
        raise OSError(f"could not encode {path}")
    atomic_write_bytes(path, data.tobytes())


def loss_keys(records: Sequence[Dict]) -> List[str]:
    """The loss names found in the records, in order of first appearance."""
    keys: List[str] = []
    for record in records:
        for key in record:
            if key not in _META_KEYS and key not in keys:
                keys.append(key)
    return keys


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < 2:
        return values
    kernel = np.ones(window) / window
    padded = np.concatenate([np.full(window - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid")


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _panel(name: str, steps: np.ndarray, values: np.ndarray, phase_change: float, x_range) -> np.ndarray:
    img = np.full((_PANEL_H, _PANEL_W, 3), _BG, np.uint8)
    x0, x1 = _MARGIN_L, _PANEL_W - _MARGIN_R
    y0, y1 = _MARGIN_T, _PANEL_H - _MARGIN_B
    cv2.rectangle(img, (x0, y0), (x1, y1), _AXIS, 1)
    cv2.putText(img, name, (x0, 18), _FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        lo, hi = lo - 0.5 * max(abs(lo), 1e-6), hi + 0.5 * max(abs(hi), 1e-6)
    s_lo, s_hi = x_range
    span = max(s_hi - s_lo, 1)

    def to_px(s, v):
        px = x0 + (s - s_lo) / span * (x1 - x0)
        py = y1 - (v - lo) / (hi - lo) * (y1 - y0)
        return np.stack([px, py], axis=-1).round().astype(np.int32)

    if s_lo < phase_change <= s_hi:
        px = int(round(x0 + (phase_change - s_lo) / span * (x1 - x0)))
        cv2.line(img, (px, y0), (px, y1), _PHASE, 1)
    window = max(1, len(values) // 50)
    cv2.polylines(img, [to_px(steps, values)], False, _RAW, 1, cv2.LINE_AA)
    cv2.polylines(img, [to_px(steps, _moving_average(values, window))], False, _SMOOTH, 2, cv2.LINE_AA)
    for value, y in ((hi, y0 + 4), (lo, y1)):
        cv2.putText(img, _fmt(value), (4, y + 4), _FONT, 0.4, _AXIS, 1, cv2.LINE_AA)
    last = f"last {_fmt(float(values[-1]))}"
    cv2.putText(img, last, (x1 - 8 * len(last), 18), _FONT, 0.4, _SMOOTH, 1, cv2.LINE_AA)
    for s, align in ((s_lo, 0), (s_hi, 1)):
        label = f"step {int(s)}"
        cv2.putText(img, label, (x0 if not align else x1 - 7 * len(label), _PANEL_H - 8), _FONT, 0.4,
                    _AXIS, 1, cv2.LINE_AA)
    return img


def loss_chart(records: Sequence[Dict]) -> np.ndarray:
    """One panel per loss term (raw curve and moving average, x = global step; a red line marks the switch
    from the init phase to the GAN phase). Returns a BGR image."""
    keys = loss_keys(records)
    if not keys:
        return np.full((_PANEL_H, _PANEL_W, 3), _BG, np.uint8)
    all_steps = [r["step"] for r in records]
    x_range = (min(all_steps), max(all_steps))
    gan_steps = [r["step"] for r in records if r.get("phase") == "gan"]
    phase_change = min(gan_steps) - 0.5 if gan_steps and gan_steps[0] != all_steps[0] else -math.inf
    panels = []
    for key in keys:
        pairs = [(r["step"], r[key]) for r in records if key in r and math.isfinite(r[key])]
        if not pairs:
            continue
        steps, values = (np.asarray(v, dtype=np.float64) for v in zip(*pairs))
        panels.append(_panel(key, steps, values, phase_change, x_range))
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    blank = np.full_like(panels[0], 255)
    panels += [blank] * (rows * cols - len(panels))
    return np.vstack([np.hstack(panels[r * cols:(r + 1) * cols]) for r in range(rows)])


def sample_grid(photos: Sequence[np.ndarray], outputs: Sequence[np.ndarray], caption: str = "") -> np.ndarray:
    """Photos (top row) over their stylisations (bottom row), RGB uint8 in; a BGR image out."""
    gap = 4
    top = np.hstack([np.pad(p, ((gap, gap), (gap, gap), (0, 0)), constant_values=255) for p in photos])
    bottom = np.hstack([np.pad(o, ((gap, gap), (gap, gap), (0, 0)), constant_values=255) for o in outputs])
    grid = np.vstack([top, bottom])
    if caption:
        band = np.full((24, grid.shape[1], 3), 255, np.uint8)
        cv2.putText(band, caption, (6, 17), _FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        grid = np.vstack([band, grid])
    return cv2.cvtColor(grid, cv2.COLOR_RGB2BGR)
