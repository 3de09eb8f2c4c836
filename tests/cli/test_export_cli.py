"""``anime export`` end to end: the files other runtimes load give the reference generator's outputs."""

from __future__ import annotations

import numpy as np
import pytest

from animecli import runtime
from tests.support.cli import run_anime


@pytest.fixture(scope="module", autouse=True)
def _configured():
    """MindSpore is used in this process below: set the device first, as commands do (a later module's
    ``runtime.configure`` fails once MindSpore's runtime started without it)."""
    runtime.configure("cpu", mode="graph")


#: (golden file, case, weights, --upsample): one case per upsampling mode.
MODES = {
    "tf": ("golden_tf.npz", "tf_200x300", "random_generator_tf", None),
    "align": ("golden_bl.npz", "bl_align_203x317", "random_generator_bl.pt", None),
    "half-pixel": ("golden_bl.npz", "bl_noalign_256", "random_generator_bl.pt", "half-pixel"),
}


def _export(fixtures, output, mode):
    npz, case, weights, upsample = MODES[mode]
    golden = np.load(fixtures / "generator" / npz)
    height, width = golden[f"{case}_input"].shape[2:]
    args = ["export", output, "--weights", fixtures / "generator" / weights, "--size", f"{height}x{width}"]
    if upsample:
        args += ["--upsample", upsample]
    result = run_anime(*args)
    assert result.returncode == 0, result.stderr
    return golden[f"{case}_input"], golden[f"{case}_output"], result


@pytest.fixture(scope="module")
def exported(fixtures, tmp_path_factory):
    """``exported(mode, suffix)``: (input, expected output, the finished ``anime export``, the file). Each
    (mode, format) is exported once, into a folder of its own, and shared by the tests that read it."""
    done = {}

    def export(mode, suffix):
        if (mode, suffix) not in done:
            folder = tmp_path_factory.mktemp(f"export-{mode}-{suffix}")
            # A MindIR name rich would read as markup: it must be printed as typed.
            output = folder / ("model.onnx" if suffix == "onnx" else "[b]model.mindir")
            done[mode, suffix] = (*_export(fixtures, output, mode), output)
        return done[mode, suffix]

    return export


@pytest.mark.parametrize("mode", sorted(MODES))
def test_onnx_file_matches_the_goldens_in_onnxruntime(exported, mode):
    import onnxruntime

    x, expected, _, output = exported(mode, "onnx")
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 2e-4
    assert sorted(p.name for p in output.parent.iterdir()) == ["model.onnx"]  # no temporary left beside it


@pytest.mark.parametrize("mode", sorted(MODES))
def test_mindir_file_loads_as_graphcell_and_matches_the_goldens(exported, mode):
    import mindspore as ms

    x, expected, result, output = exported(mode, "mindir")
    assert f"wrote {output}: MINDIR" in result.stdout + result.stderr
    assert sorted(p.name for p in output.parent.iterdir()) == [output.name]  # no temporary left beside it
    got = ms.nn.GraphCell(ms.load(str(output)))(ms.Tensor(x)).asnumpy()
    assert np.abs(got - expected).max() <= 2e-4


def test_onnx_model_takes_only_its_export_size(exported):
    import onnxruntime

    *_, output = exported("tf", "onnx")  # the file the tf test checks against the goldens
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [1, 3, 200, 300]
    with pytest.raises(onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument, match="invalid dimensions"):
        session.run(None, {session.get_inputs()[0].name: np.zeros((1, 3, 256, 256), np.float32)})


@pytest.mark.parametrize("output, size, message", [
    ("model.pb", "256x256", "unknown export format '.pb'"),
    ("model.onnx", "202x300", "need multiples of 4"),
    ("model.onnx", "big", "give HEIGHTxWIDTH"),
])
def test_bad_requests_fail_with_one_line_and_write_nothing(fixtures, tmp_path, output, size, message):
    result = run_anime("export", tmp_path / output, "--weights", fixtures / "generator" / "random_generator_tf",
                       "--size", size)
    assert result.returncode == 1
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_kept_without_overwrite(fixtures, tmp_path):
    output = tmp_path / "model.onnx"
    output.write_bytes(b"mine")
    result = run_anime("export", output, "--weights", fixtures / "generator" / "random_generator_tf")
    assert result.returncode == 1 and "--overwrite" in result.stderr
    assert output.read_bytes() == b"mine"
