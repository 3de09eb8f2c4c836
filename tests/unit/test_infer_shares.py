"""Sharing ``anime infer`` out over msrun workers: the partition, the costs, and what each worker writes
(the workers faked: a stand-in for the cluster's collectives, and an identity "stylizer")."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from animecli import images
from animecli.cluster import Cluster
from animecli.errors import InvalidInputError
from animecli.pipelines.infer import InferOptions, job_costs, partition, plan_jobs, run_infer_distributed


def test_partition_uses_every_job_once_and_is_deterministic():
    costs = [5, 3, 3, 8, 1, 1, 2, 7, 4, 4, 6]
    for world in (1, 2, 3, 4, 16):
        shares = partition(costs, world)
        assert len(shares) == world
        assert sorted(itertools.chain(*shares)) == list(range(len(costs)))
        assert all(share == sorted(share) for share in shares)  # each worker keeps the planned order
        assert partition(list(costs), world) == shares


def test_partition_balances_pixels_greedily():
    # Largest first onto the least-loaded worker: 8->0, 7->1, 6->1 (13), 5->0 (13), 4->0 (tie: rank 0),
    # 4->1, 3->0, 3->1 (20 each), 2->0, 1->1, 1->1: 22 each.
    costs = [5, 3, 3, 8, 1, 1, 2, 7, 4, 4, 6]
    shares = partition(costs, 2)
    loads = [sum(costs[i] for i in share) for share in shares]
    assert loads == [22, 22]
    assert shares == [[0, 1, 3, 6, 8], [2, 4, 5, 7, 9, 10]]
    # One big picture against many small ones: the big one is a worker's whole share.
    assert partition([100, 10, 10, 10, 10], 2) == [[0], [1, 2, 3, 4]]


def test_partition_ties_go_by_index_then_rank():
    assert partition([1, 1, 1, 1], 2) == [[0, 2], [1, 3]]
    assert partition([1, 1], 3) == [[0], [1], []]
    assert partition([], 2) == [[], []]


def test_job_costs_read_headers_after_max_size(tmp_path):
    images.write_image(tmp_path / "a.png", np.zeros((40, 100, 3), np.uint8))
    images.write_image(tmp_path / "b.jpg", np.zeros((60, 30, 3), np.uint8))
    images.write_image(tmp_path / "c.bmp", np.zeros((10, 10, 3), np.uint8))  # no header size: the mean
    jobs, _, _ = plan_jobs([str(tmp_path / n) for n in ("a.png", "b.jpg", "c.bmp")], tmp_path / "out")
    assert job_costs(jobs) == [4000, 1800, 2900]
    assert job_costs(jobs, max_size=50) == [50 * 20, 25 * 50, (1000 + 1250) // 2]
    assert job_costs(jobs[2:]) == [1_000_000]


class _FakeCluster(Cluster):
    """One worker of a cluster whose other workers send ``others`` (default: the same as this one)."""

    def __init__(self, rank, world_size, others=None):
        super().__init__(rank, world_size)
        object.__setattr__(self, "others", others)

    def gather_bytes(self, data):
        return [data if r == self.rank or self.others is None else self.others for r in range(self.world_size)]


def _photos(folder, sizes):
    folder.mkdir()
    for i, (w, h) in enumerate(sizes):
        images.write_image(folder / f"p{i}.png", np.full((h, w, 3), 10 * i, np.uint8))
    return folder


def test_each_worker_writes_only_its_share(tmp_path):
    source = _photos(tmp_path / "in", [(64, 48), (96, 64), (80, 80), (128, 96), (64, 64), (32, 32)])
    written = []
    for rank in range(2):
        out = tmp_path / f"out{rank}"  # each worker on its own copy of the folder: what it writes alone
        jobs, _, _ = plan_jobs([str(source)], out)
        result = run_infer_distributed(jobs, lambda rgb: rgb, InferOptions(), _FakeCluster(rank, 2))
        written.append({p.name for p in out.iterdir()})
        share = partition(job_costs(jobs), 2)[rank]
        assert written[rank] == {jobs[i].target.name for i in share}
        assert len(result.done) == 2 * len(share)  # the fake's other worker reports the same share
    assert written[0].isdisjoint(written[1])
    assert written[0] | written[1] == {f"p{i}.png" for i in range(6)}


def test_existing_outputs_are_skipped_before_sharing_out(tmp_path):
    source = _photos(tmp_path / "in", [(64, 48), (96, 64), (80, 80)])
    out = tmp_path / "out"
    out.mkdir()
    images.write_image(out / "p1.png", np.zeros((8, 8, 3), np.uint8))
    jobs, _, _ = plan_jobs([str(source)], out)
    result = run_infer_distributed(jobs, lambda rgb: rgb, InferOptions(), _FakeCluster(0, 1))
    assert [j.target.name for j in result.done] == ["p0.png", "p2.png"]
    assert [p.name for p, _ in result.skipped] == ["p1.png"] and not result.failed
    assert images.read_image(out / "p1.png").shape == (8, 8, 3)


def test_workers_that_see_different_pictures_stop_before_writing(tmp_path):
    source = _photos(tmp_path / "in", [(64, 48), (96, 64)])
    jobs, _, _ = plan_jobs([str(source)], tmp_path / "out")
    with pytest.raises(InvalidInputError, match="different pictures"):
        run_infer_distributed(jobs, lambda rgb: rgb, InferOptions(), _FakeCluster(1, 2, others=b"another plan"))
    assert not (tmp_path / "out").exists()
