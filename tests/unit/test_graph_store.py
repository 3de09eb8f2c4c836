"""The graph store: exported graphs serve any weights and give the bytes of an in-process compile, survive
damage, keep to their budget, and are keyed by what they depend on."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def configured():
    from animecli import runtime

    return runtime.configure("cpu", mode="graph", graph_kernel=True)


def _generator(seed):
    import mindspore as ms

    from animecli.models.generator import Generator

    net = Generator("half-pixel", 1e-5)
    net.set_train(False)
    rng = np.random.default_rng(seed)
    for parameter in net.get_parameters():
        parameter.set_data(ms.Tensor(rng.normal(0, 0.1, parameter.shape).astype(np.float32)))
    return net


def _small_cell(seed):
    """A one-convolution cell with random weights: for what is the store's doing, not the network's (its
    graphs export and compile in a fraction of a second)."""
    import mindspore as ms

    net = ms.nn.Conv2d(3, 4, 3, has_bias=True)
    net.set_train(False)
    rng = np.random.default_rng(seed)
    for parameter in net.get_parameters():
        parameter.set_data(ms.Tensor(rng.normal(0, 0.1, parameter.shape).astype(np.float32)))
    return net


def _run_stored(net, x, name="test-generator"):
    from animecli import runtime
    from animecli.inference import graph_store

    key = graph_store.graph_key(name, [x])
    with runtime.compiling():
        graph, output = graph_store.load_and_run(net, [x], key)
    assert np.array_equal(output.asnumpy(), graph(x).asnumpy())  # the first result is the graph's
    return output.asnumpy()


def test_a_stored_graph_runs_with_the_weights_of_the_cell_that_loads_it(configured):
    import mindspore as ms

    from animecli import runtime
    from animecli.inference import graph_store

    x = ms.Tensor(np.random.default_rng(0).uniform(-1, 1, (1, 3, 24, 32)).astype(np.float32))
    first, second = _generator(1), _generator(2)
    exported = _run_stored(first, x)  # exports with the first network's weights
    reused = _run_stored(second, x)
    with runtime.compiling():
        direct = second(x).asnumpy()
    assert np.array_equal(reused, direct)  # a stored graph gives the bytes of compiling in this process
    assert np.abs(exported - reused).max() > 1e-2  # really other weights
    stored = [p.name for p in graph_store.store_dir().iterdir()]
    assert len(stored) == 1 and stored[0].startswith("test-generator-1x3x24x32-") and stored[0].endswith(".mindir")


def test_a_damaged_graph_file_is_exported_again(configured):
    import mindspore as ms

    from animecli.inference import graph_store

    x = ms.Tensor(np.random.default_rng(3).uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32))
    net = _small_cell(4)
    good = _run_stored(net, x, "test-cell")
    (path,) = graph_store.store_dir().glob("*.mindir")
    exported = path.read_bytes()
    path.write_bytes(b"not a MindIR file")
    assert np.array_equal(_run_stored(net, x, "test-cell"), good)
    assert [p.name for p in graph_store.store_dir().glob("*.mindir")] == [path.name]  # no temp file left
    assert path.stat().st_size == len(exported) > 1000  # a whole graph again


def test_keys_name_shape_and_settings(configured):
    from animecli.inference import graph_store
    from animecli.inference.graph_store import TensorSpec

    key = graph_store.graph_key("generator-tf-eps1e-12", [TensorSpec((1, 3, 64, 80))])
    assert key == graph_store.graph_key("generator-tf-eps1e-12", [np.zeros((1, 3, 64, 80), np.float32)])
    assert key.startswith("generator-tf-eps1e-12-1x3x64x80-")
    others = {graph_store.graph_key("generator-tf-eps1e-12", [TensorSpec((1, 3, 80, 64))]),
              graph_store.graph_key("generator-align-eps1e-12", [TensorSpec((1, 3, 64, 80))]),
              graph_store.graph_key("generator-tf-eps1e-12", [TensorSpec((1, 3, 64, 80), "float16")])}
    assert key not in others and len(others) == 3


def test_an_unwritable_store_falls_back_to_compiling_in_process(configured, monkeypatch):
    import mindspore as ms

    from animecli import runtime
    from animecli.inference import graph_store

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    x = ms.Tensor(np.random.default_rng(5).uniform(-1, 1, (1, 3, 16, 24)).astype(np.float32))
    net = _small_cell(6)
    monkeypatch.setattr(ms, "export", full_disk)
    fallback = _run_stored(net, x, "test-cell")
    with runtime.compiling():
        direct = net(x).asnumpy()
    assert np.abs(fallback - direct).max() == 0
    assert not list(graph_store.store_dir().glob("*.mindir"))  # nothing half-written left behind


def test_the_store_keeps_to_its_budget_least_recently_used_out_first(configured):
    import mindspore as ms

    from animecli import runtime
    from animecli.inference import graph_store

    net = _small_cell(10)
    inputs = [ms.Tensor(np.zeros((1, 3, 16, 16 + 4 * i), np.float32)) for i in range(3)]
    keys = [graph_store.graph_key("test-cell", [x]) for x in inputs]
    with runtime.compiling():
        graph_store.load_and_run(net, [inputs[0]], keys[0])
        graph_store.load_and_run(net, [inputs[1]], keys[1])
        one = graph_store.folder_size(graph_store.store_dir())[1] // 2  # about one graph's size
        graph_store.load_and_run(net, [inputs[0]], keys[0])  # used again: now the most recent
        graph_store.load_and_run(net, [inputs[2]], keys[2], budget=int(2.5 * one))
    assert [p.name for p in graph_store.stored_graphs()] == [f"{keys[0]}.mindir", f"{keys[2]}.mindir"]
    # A budget smaller than one graph keeps the graph just exported, so the run that needs it finds it.
    first, last = graph_store.stored_graphs()
    assert graph_store.trim(0, keep=last) == [first]
    assert graph_store.stored_graphs() == [last]


def test_a_store_that_cannot_be_written_still_serves_its_graphs(configured, monkeypatch):
    import mindspore as ms

    from animecli import runtime
    from animecli.inference import graph_store

    x = ms.Tensor(np.random.default_rng(11).uniform(-1, 1, (1, 3, 16, 20)).astype(np.float32))
    net = _small_cell(12)
    stored = _run_stored(net, x, "test-cell")

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(graph_store.os, "utime", read_only)
    with runtime.compiling():
        graph, output = graph_store.load_and_run(net, [x], graph_store.graph_key("test-cell", [x]))
    assert isinstance(graph, ms.nn.GraphCell)  # loaded from the store, not compiled again
    assert np.array_equal(output.asnumpy(), stored)
