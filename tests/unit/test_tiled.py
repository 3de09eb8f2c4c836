"""The tiled executor equals the whole-picture network, and the Stylizer follows its one policy."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def configured():
    from animecli import runtime

    return runtime.configure("cpu", mode="graph", graph_kernel=True)


@pytest.fixture(scope="module")
def bl_weights(fixtures):
    from animecli.weights.resolve import read_generator_file

    return read_generator_file(fixtures / "generator" / "random_generator_bl.pt")


def _whole(params, mode, eps, x):
    import mindspore as ms

    from animecli import runtime
    from animecli.models.generator import Generator

    net = Generator(mode, eps)
    net.set_train(False)
    ms.load_param_into_net(net, {k: ms.Parameter(ms.Tensor(v), name=k) for k, v in params.items()})
    with runtime.compiling():  # the fusion compiler writes a log into the cwd: keep the checkout clean
        return net(ms.Tensor(x)).asnumpy()


def test_reflect_and_take_match_numpy():
    from animecli.inference.tiled import _reflect, _take

    data = np.arange(3 * 7 * 9, dtype=np.float32).reshape(3, 7, 9)
    padded = np.pad(data, ((0, 0), (3, 3), (3, 3)), mode="reflect")
    for top, left, size in ((-3, -3, 6), (2, 4, 8), (-1, 0, 13)):
        rows = _reflect(np.arange(top, top + size), 7)
        cols = _reflect(np.arange(left, left + size), 9)
        expected = padded[:, top + 3:top + 3 + size, left + 3:left + 3 + size]
        valid_r, valid_c = min(size, 7 + 3 - top), min(size, 9 + 3 - left)  # beyond: clamped overhang
        assert np.array_equal(_take(data, rows, cols)[0][:, :valid_r, :valid_c],
                              expected[:, :valid_r, :valid_c])


@pytest.mark.parametrize("mode", ["tf", "align", "half-pixel"])
@pytest.mark.parametrize("sizes", [(13, 26), (40, 79), (21, 21)])
def test_resize_weights_match_mindspore(configured, mode, sizes):
    """The interpolation the tiles use (absolute coordinates) is MindSpore's bilinear resize."""
    import mindspore as ms
    from mindspore import ops

    from animecli.inference.tiled import resize_source

    size_in, size_out = sizes
    x = np.random.default_rng(0).normal(size=(1, 2, size_in, size_in)).astype(np.float32)
    resize = ops.ResizeBilinearV2(align_corners=mode == "align", half_pixel_centers=mode == "half-pixel")
    expected = resize(ms.Tensor(x), (size_out, size_out)).asnumpy()
    lower, upper, weight = resize_source(size_out, size_in, mode)
    matrix = np.zeros((size_out, size_in), np.float32)
    np.add.at(matrix, (np.arange(size_out), lower), 1 - weight)
    np.add.at(matrix, (np.arange(size_out), upper), weight)
    assert np.abs(matrix @ x @ matrix.T - expected).max() < 5e-5  # a wrong formula is off by ~0.1


@pytest.mark.parametrize("npz, case, weights, mode", [
    ("golden_bl.npz", "bl_align_203x317", "random_generator_bl.pt", "align"),
    ("golden_tf.npz", "tf_200x300", "random_generator_tf", "tf"),
    ("golden_bl.npz", "bl_noalign_256", "random_generator_bl.pt", "half-pixel"),
])
def test_tiled_equals_whole_picture(configured, fixtures, npz, case, weights, mode):
    """Small tiles (many tile borders, overhanging edge tiles): same result as the whole picture."""
    from animecli.inference.tiled import TiledGenerator
    from animecli.weights.resolve import read_generator_file

    loaded = read_generator_file(fixtures / "generator" / weights)
    golden = np.load(fixtures / "generator" / npz)
    x = golden[f"{case}_input"]
    tiled = TiledGenerator(loaded.params, mode, loaded.meta.eps, band_rows=(48, 32, 16))(x)
    whole = _whole(loaded.params, mode, loaded.meta.eps, x)
    assert tiled.shape == whole.shape
    assert np.abs(whole - golden[f"{case}_output"]).max() <= 2e-4  # the fused whole-picture graph
    assert np.abs(tiled - whole).max() <= 5e-5
    assert np.abs(tiled - golden[f"{case}_output"]).max() <= 2e-4


def test_tiled_narrow_pictures_equal_whole_picture(configured, bl_weights):
    """Many bands of a narrow picture (a layer whose output overwrites its input band by band), and one band.

    One executor runs them all, the first picture again last: the memory it keeps between pictures (and
    grows for a larger one) does not change a byte."""
    from animecli.inference.tiled import TiledGenerator

    executor = TiledGenerator(bl_weights.params, "half-pixel", bl_weights.meta.eps, band_rows=(48, 32, 16))
    first = {}
    for height, width in ((200, 40), (36, 180), (200, 40)):
        x = np.random.default_rng(height).uniform(-1, 1, (1, 3, height, width)).astype(np.float32)
        tiled = executor(x)
        if (height, width) in first:
            assert np.array_equal(tiled, first[height, width])
            continue
        first[height, width] = tiled
        whole = _whole(bl_weights.params, "half-pixel", bl_weights.meta.eps, x)
        assert np.abs(tiled - whole).max() <= 5e-5


def _picture(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_the_policy_is_the_pixel_count_alone():
    from animecli.inference.stylizer import WHOLE_MAX_PIXELS, runs_tiled

    assert WHOLE_MAX_PIXELS == 2_500_000
    assert not runs_tiled(1250, 2000) and runs_tiled(1251, 2000)
    assert not runs_tiled(720, 1280) and runs_tiled(3024, 4032)


def test_a_picture_above_the_limit_runs_tiled_and_close_to_its_whole_graph(configured, bl_weights, monkeypatch):
    from animecli.inference import stylizer as engine

    picture = _picture(72, 88, 4)
    whole = engine.Stylizer(bl_weights)
    whole_out = whole(picture)
    monkeypatch.setattr(engine, "WHOLE_MAX_PIXELS", 72 * 88 - 1)
    tiled = engine.Stylizer(bl_weights)
    tiled_out = tiled(picture)
    assert whole._graphs and not tiled._graphs and tiled._tiled is not None
    assert np.abs(tiled_out.astype(int) - whole_out.astype(int)).max() <= 1
    assert (tiled_out == whole_out).mean() > 0.99
    # The tiled path gives the same bytes again, whatever ran in between.
    tiled(_picture(40, 48, 5))
    assert np.array_equal(tiled(picture), tiled_out)
