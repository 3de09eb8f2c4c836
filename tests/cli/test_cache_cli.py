"""``anime cache info`` / ``anime cache clear``: the compiled-graph cache's size, and clearing it (weights stay)."""

from __future__ import annotations

import os
from pathlib import Path

from animecli import images
from tests.support.cli import run_anime


def test_info_shows_the_stored_graphs_and_clear_removes_them_but_not_the_weights(fixtures, tmp_path):
    home = Path(os.environ["ANIME_HOME"])
    weights_file = home / "weights" / "torch" / "hayao" / "hayao.ckpt"  # stands for a downloaded weight
    weights_file.parent.mkdir(parents=True)
    weights_file.write_bytes(b"weights")

    empty = run_anime("cache", "info")
    assert empty.returncode == 0, empty.stderr
    assert "graphs: 0, 0.0 MB (budget 500.0 MB" in empty.stdout

    images.write_image(tmp_path / "in.png", images.read_image(fixtures / "photos" / "chelsea.png")[:40, :48])
    infer = run_anime("infer", tmp_path / "in.png", tmp_path / "out.png", "--weights",
                      fixtures / "generator" / "random_generator_bl.pt", "-q")
    assert infer.returncode == 0, infer.stderr
    graph_bytes = sum(p.stat().st_size for p in (home / "mindspore" / "graphs").glob("*.mindir"))
    info = run_anime("cache", "info")
    assert info.returncode == 0, info.stderr
    assert str(home / "mindspore") in info.stdout
    assert f"graphs: 1, {graph_bytes / 2**20:.1f} MB" in info.stdout

    cleared = run_anime("cache", "clear")
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout.startswith("removed ") and " MB from " in cleared.stdout
    assert not (home / "mindspore").exists()
    assert weights_file.read_bytes() == b"weights"
    assert "graphs: 0," in run_anime("cache", "info").stdout
