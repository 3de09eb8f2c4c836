"""The generator reproduces the reference implementations on the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from animecli.weights.convert import GENERATOR_SHAPES

GOLDEN_CASES = [
    # (npz file, case, weights fixture, upsample mode)
    ("golden_tf.npz", "tf_256", "random_generator_tf", "tf"),
    ("golden_tf.npz", "tf_200x300", "random_generator_tf", "tf"),
    ("golden_bl.npz", "bl_align_256", "random_generator_bl.pt", "align"),
    ("golden_bl.npz", "bl_align_203x317", "random_generator_bl.pt", "align"),
    ("golden_bl.npz", "bl_noalign_256", "random_generator_bl.pt", "half-pixel"),
]


@pytest.fixture(scope="module")
def configured():
    from animecli import runtime

    return runtime.configure("cpu", mode="graph")


def test_parameter_names_and_count(configured):
    from animecli.models.generator import Generator

    params = Generator().parameters_dict()
    assert len(params) == 77
    assert sum(p.size for p in params.values()) == 2_143_552
    assert {name: tuple(p.shape) for name, p in params.items()} == GENERATOR_SHAPES


@pytest.mark.parametrize("npz, case, weights, mode", GOLDEN_CASES, ids=[c[1] for c in GOLDEN_CASES])
def test_golden_parity(configured, fixtures, npz, case, weights, mode):
    import mindspore as ms

    from animecli.inference.stylizer import Stylizer
    from animecli.weights.resolve import read_generator_file

    loaded = read_generator_file(fixtures / "generator" / weights)
    assert loaded.meta.upsample == ("tf" if mode == "tf" else "align")
    golden = np.load(fixtures / "generator" / npz)
    from dataclasses import replace

    from animecli.weights.generator_ckpt import GeneratorWeights

    stylizer = Stylizer(GeneratorWeights(loaded.params, replace(loaded.meta, upsample=mode)))
    output = stylizer.network(ms.Tensor(golden[f"{case}_input"])).asnumpy()
    expected = golden[f"{case}_output"]
    assert output.shape == expected.shape
    assert np.abs(output - expected).max() <= 2e-4


def test_upsample_mode_changes_the_result(configured, fixtures):
    """The mode is part of a weight's identity: tf and half-pixel differ clearly on the same weights."""
    import mindspore as ms

    from animecli.models.generator import Generator
    from animecli.weights.resolve import read_generator_file

    params = read_generator_file(fixtures / "generator" / "random_generator_bl.pt").params
    x = ms.Tensor(np.load(fixtures / "generator" / "golden_tf.npz")["tf_256_input"])
    outputs = []
    for mode in ("tf", "half-pixel"):
        net = Generator(mode)
        ms.load_param_into_net(net, {k: ms.Parameter(ms.Tensor(v), name=k) for k, v in params.items()})
        outputs.append(net(x).asnumpy())
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-2
