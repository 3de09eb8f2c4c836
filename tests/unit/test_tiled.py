"""The tiled executor equals the whole-picture network, and the Stylizer routes shapes as documented."""

from __future__ import annotations

import numpy as np
import pytest

from animecli.weights.generator_ckpt import GeneratorWeights


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
    from animecli.models.tiled import _reflect, _take

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

    from animecli.models.tiled import resize_source

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
    from animecli.models.tiled import TiledGenerator
    from animecli.weights.resolve import read_generator_file

    loaded = read_generator_file(fixtures / "generator" / weights)
    golden = np.load(fixtures / "generator" / npz)
    x = golden[f"{case}_input"]
    tiled = TiledGenerator(loaded.params, mode, loaded.meta.eps, tiles=(48, 32, 16))(x)
    whole = _whole(loaded.params, mode, loaded.meta.eps, x)
    assert tiled.shape == whole.shape
    assert np.abs(whole - golden[f"{case}_output"]).max() <= 2e-4  # the fused whole-picture graph
    assert np.abs(tiled - whole).max() <= 5e-5
    assert np.abs(tiled - golden[f"{case}_output"]).max() <= 2e-4


def test_tiled_narrow_pictures_equal_whole_picture(configured, bl_weights):
    """One tile per band of rows (a layer whose output overwrites its input band by band) and one band."""
    from animecli.models.tiled import TiledGenerator

    for height, width in ((200, 40), (36, 180)):
        x = np.random.default_rng(height).uniform(-1, 1, (1, 3, height, width)).astype(np.float32)
        tiled = TiledGenerator(bl_weights.params, "half-pixel", bl_weights.meta.eps, tiles=(48, 32, 16))(x)
        whole = _whole(bl_weights.params, "half-pixel", bl_weights.meta.eps, x)
        assert np.abs(tiled - whole).max() <= 5e-5


def _picture(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_stylizer_compiles_per_shape_only_when_it_pays(configured, bl_weights):
    """First shape: whole graph. New shapes: tiled (no compile) until their pictures, in this run and
    earlier ones, add up to compile_worth_pixels: then whole."""
    from animecli.stylize import COMPILE_WORTH_PIXELS, Stylizer

    assert COMPILE_WORTH_PIXELS == 450_000
    worth = 3 * 48 * 40  # b (48x40) compiles on its third picture
    stylizer = Stylizer(bl_weights, compile_worth_pixels=worth)
    a, b, c = _picture(40, 56, 1), _picture(48, 40, 2), _picture(36, 60, 3)
    outputs = [stylizer(p) for p in (a, a, b, c, b, b, a)]
    stats = stylizer.stats
    assert stats.pictures == 7
    # compiles: a (whole), b (tiled graphs, first tiled picture), b (whole, third time seen)
    assert stats.compiles == 3 and stats.hits == 4
    assert set(stats.whole_first_call) == {(40, 56), (48, 40)}
    assert stats.tiled_pictures == 3 and stats.tiled_first_call is not None  # b, c, b
    assert stats.hit_rate == pytest.approx(4 / 7)
    # Whichever path ran, a picture gives the same pixels (float noise may move a value by one level).
    assert np.array_equal(outputs[0], outputs[1]) and np.array_equal(outputs[2], outputs[4])
    tiled, whole = outputs[2].astype(int), outputs[5].astype(int)
    assert np.abs(tiled - whole).max() <= 1 and (tiled == whole).mean() > 0.99

    # A later Stylizer (a later run) finds a's and b's graphs on disk: both run whole from the start.
    later = Stylizer(bl_weights, compile_worth_pixels=worth)
    again = [later(p) for p in (a, b, c)]
    assert later.stats.whole_from_disk == 2 and set(later.stats.whole_first_call) == {(40, 56), (48, 40)}
    assert later.stats.tiled_pictures == 1  # c: its second picture over two runs, and not on disk
    assert np.array_equal(again[0], outputs[0]) and np.array_equal(again[1], outputs[5])

    # A third run: c's third picture counting the earlier runs, so it gets its own graph now.
    third = Stylizer(bl_weights, compile_worth_pixels=worth)
    third(a)
    third(c)
    assert set(third.stats.whole_first_call) == {(40, 56), (36, 60)} and third.stats.tiled_pictures == 0


def test_a_large_new_shape_gets_its_own_graph_at_once(configured, bl_weights):
    from animecli.stylize import Stylizer

    stylizer = Stylizer(bl_weights, compile_worth_pixels=40 * 48)
    for picture in (_picture(32, 40, 1), _picture(40, 48, 2), _picture(36, 44, 3), _picture(36, 44, 4)):
        stylizer(picture)
    # the first shape (whole), 40x48 (large enough: whole at once), 36x44 (tiled, then whole: 2 x 36 x 44
    # pixels are worth compiling)
    assert set(stylizer.stats.whole_first_call) == {(32, 40), (40, 48), (36, 44)}
    assert stylizer.stats.tiled_pictures == 1


def test_large_pictures_run_tiled_and_match(configured, bl_weights):
    from animecli.stylize import Stylizer

    picture = _picture(72, 88, 4)
    tiled = Stylizer(bl_weights, whole_max_pixels=72 * 88 - 1)
    whole = Stylizer(bl_weights, tiling="never")
    tiled_out, whole_out = tiled(picture), whole(picture)
    assert tiled.stats.tiled_pictures == 1 and not tiled.stats.whole_first_call
    assert whole.stats.tiled_pictures == 0
    assert np.abs(tiled_out.astype(int) - whole_out.astype(int)).max() <= 1
    assert (tiled_out == whole_out).mean() > 0.99


def test_tiling_option_is_checked(bl_weights):
    from animecli.errors import InvalidInputError
    from animecli.stylize import Stylizer

    with pytest.raises(InvalidInputError, match="tiling"):
        Stylizer(GeneratorWeights(bl_weights.params, bl_weights.meta), tiling="sometimes")
