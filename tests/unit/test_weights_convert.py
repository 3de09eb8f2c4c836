"""Both published layouts load to the same parameters; our .ckpt round-trips them losslessly."""

from __future__ import annotations

import numpy as np
import pytest

from animecli.errors import IncompatibleCheckpointError
from animecli.weights.convert import GENERATOR_SHAPES, generator_params_from
from animecli.weights.resolve import read_generator_file


def test_torch_and_tf1_fixtures_give_identical_parameters(fixtures):
    from_torch = read_generator_file(fixtures / "generator" / "random_generator_bl.pt")
    from_tf = read_generator_file(fixtures / "generator" / "random_generator_tf")
    assert from_torch.params.keys() == from_tf.params.keys() == GENERATOR_SHAPES.keys()
    for name in GENERATOR_SHAPES:
        assert np.array_equal(from_torch.params[name], from_tf.params[name]), name
    assert (from_torch.meta.upsample, from_torch.meta.eps) == ("align", 1e-5)
    assert (from_tf.meta.upsample, from_tf.meta.eps) == ("tf", 1e-12)


@pytest.mark.parametrize("source", ["random_generator_bl.pt", "random_generator_tf"])
def test_roundtrip_through_our_checkpoint_is_lossless(fixtures, tmp_path, source):
    from animecli.weights.generator_ckpt import save_generator_ckpt

    original = read_generator_file(fixtures / "generator" / source)
    target = tmp_path / "converted.ckpt"
    save_generator_ckpt(target, original)
    again = read_generator_file(target)
    assert again.meta == original.meta
    for name, array in original.params.items():
        assert again.params[name].dtype == np.float32
        assert np.array_equal(again.params[name], array), name


def test_incompatible_checkpoint_names_the_problems():
    params = {name: np.zeros(shape, np.float32) for name, shape in GENERATOR_SHAPES.items()}
    del params["block_a.0.1.weight"]
    params["block_b.0.1.weight"] = np.zeros((1, 2, 3, 3), np.float32)
    params["extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(IncompatibleCheckpointError) as info:
        generator_params_from(params, "torch", source="other.pt")
    message = str(info.value)
    assert "other.pt" in message and "block_a.0.1.weight" in message
    assert "extra.weight" in message and "block_b.0.1.weight (1, 2, 3, 3)" in message


def test_tf1_checkpoint_of_another_network_is_refused():
    with pytest.raises(IncompatibleCheckpointError, match="generator/G_MODEL"):
        generator_params_from({"discriminator/conv/w": np.zeros(3, np.float32)}, "tf1", source="d.ckpt")
