"""The graph store: exported graphs serve any weights, survive damage, and are keyed by what they depend on."""

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


def _run_stored(net, x):
    from animecli import graph_store, runtime

    key = graph_store.graph_key("test-generator", [x])
    with runtime.compiling():
        graph, output = graph_store.load_and_run(net, [x], key)
    assert np.array_equal(output.asnumpy(), graph(x).asnumpy())  # the first result is the graph's
    return output.asnumpy()


def test_a_stored_graph_runs_with_the_weights_of_the_cell_that_loads_it(configured):
    import mindspore as ms

    from animecli import graph_store, runtime

    x = ms.Tensor(np.random.default_rng(0).uniform(-1, 1, (1, 3, 24, 32)).astype(np.float32))
    first, second = _generator(1), _generator(2)
    exported = _run_stored(first, x)  # exports with the first network's weights
    reused = _run_stored(second, x)
    with runtime.compiling():
        direct = second(x).asnumpy()
    assert np.abs(reused - direct).max() <= 1e-6
    assert np.abs(exported - reused).max() > 1e-2  # really other weights
    stored = sorted(p.name for p in graph_store.store_dir().iterdir())
    assert len(stored) == 2 and stored[0].startswith("test-generator-1x3x24x32-")
    assert stored[0].endswith(".lock") and stored[1] == stored[0][:-len(".lock")] + ".mindir"


def test_the_first_call_runs_under_the_graphs_lock(configured, monkeypatch):
    """Another process needing a graph just exported waits while this one builds its kernels (first call)."""
    import fcntl

    import mindspore as ms

    from animecli import graph_store, runtime

    x = ms.Tensor(np.random.default_rng(7).uniform(-1, 1, (1, 3, 16, 20)).astype(np.float32))
    key = graph_store.graph_key("test-generator", [x])
    other_key = graph_store.graph_key("test-generator", [ms.Tensor(np.zeros((1, 3, 20, 16), np.float32))])
    held = {}

    def lock_is_free(name):
        with open(graph_store.store_dir() / f"{name}.lock", "a+b") as other:  # as another process would
            try:
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(other.fileno(), fcntl.LOCK_UN)
            return True

    class Recording(ms.nn.GraphCell):
        def __call__(self, *args):
            held["this graph"] = not lock_is_free(key)
            held["another graph"] = not lock_is_free(other_key)
            return super().__call__(*args)

    monkeypatch.setattr(ms.nn, "GraphCell", Recording)
    with runtime.compiling():
        graph_store.load_and_run(_generator(8), [x], key)
    assert held == {"this graph": True, "another graph": False}
    assert lock_is_free(key)  # released once the first call is done

    # A graph loaded from the store (its kernels built already) runs its first call unlocked.
    with runtime.compiling():
        graph_store.load_and_run(_generator(9), [x], key)
    assert held == {"this graph": False, "another graph": False}


def test_a_damaged_graph_file_is_exported_again(configured):
    import mindspore as ms

    from animecli import graph_store

    x = ms.Tensor(np.random.default_rng(3).uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32))
    net = _generator(4)
    good = _run_stored(net, x)
    (path,) = graph_store.store_dir().glob("*.mindir")
    path.write_bytes(b"not a MindIR file")
    assert np.array_equal(_run_stored(net, x), good)
    assert [p.name for p in graph_store.store_dir().glob("*.mindir")] == [path.name]  # no temp file left
    assert path.stat().st_size > 100_000


def test_keys_name_shape_and_settings(configured):
    from animecli import graph_store
    from animecli.graph_store import TensorSpec

    key = graph_store.graph_key("generator-tf-eps1e-12", [TensorSpec((1, 3, 64, 80))])
    assert key == graph_store.graph_key("generator-tf-eps1e-12", [np.zeros((1, 3, 64, 80), np.float32)])
    assert key.startswith("generator-tf-eps1e-12-1x3x64x80-")
    others = {graph_store.graph_key("generator-tf-eps1e-12", [TensorSpec((1, 3, 80, 64))]),
              graph_store.graph_key("generator-align-eps1e-12", [TensorSpec((1, 3, 64, 80))]),
              graph_store.graph_key("generator-tf-eps1e-12", [TensorSpec((1, 3, 64, 80), "float16")])}
    assert key not in others and len(others) == 3


def test_an_unwritable_store_falls_back_to_compiling_in_process(configured, monkeypatch):
    import mindspore as ms

    from animecli import graph_store, runtime

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    x = ms.Tensor(np.random.default_rng(5).uniform(-1, 1, (1, 3, 16, 24)).astype(np.float32))
    net = _generator(6)
    monkeypatch.setattr(ms, "export", full_disk)
    fallback = _run_stored(net, x)
    with runtime.compiling():
        direct = net(x).asnumpy()
    assert np.abs(fallback - direct).max() == 0
    assert not list(graph_store.store_dir().glob("*.mindir"))  # nothing half-written left behind


def test_sightings_are_counted_across_calls_and_kept_per_key(tmp_path, monkeypatch):
    from animecli import graph_store

    assert [graph_store.count_sighting("a-key") for _ in range(3)] == [1, 2, 3]
    assert graph_store.count_sighting("another-key") == 1
    assert (graph_store.store_dir() / "a-key.seen").read_bytes() == b"..."

    # Where the store cannot be written, nothing is counted (the Stylizer then counts in memory).
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("ANIME_HOME", str(blocked))
    assert graph_store.count_sighting("a-key") == 0
