"""Data-parallel training on MindSpore's own dynamic cluster (``msrun``), CPU, GPU or Ascend.

``join_cluster`` joins the cluster (``animecli.cluster.join``) and switches to ``DATA_PARALLEL`` with
mean-reduced gradients. Each worker trains on its own shard of every epoch (see ``BatchStream``); rank 0
writes the checkpoints and logs.
"""

from __future__ import annotations

from animecli.cluster import Cluster, join, launched_by_msrun

__all__ = ["Cluster", "agree", "join_cluster", "launched_by_msrun"]


def agree(cluster: Cluster, code: int) -> int:
    """Combine the workers' stop requests (0 none, 1 step limit, 2 Ctrl-C): the most urgent wins."""
    if cluster.world_size == 1:
        return int(code)
    # CPU all-reduce only sums: count the workers asking for each reason.
    total = cluster.sum([code == 1, code == 2])
    return 2 if total[1] > 0 else 1 if total[0] > 0 else 0


def join_cluster() -> Cluster:
    """Join the msrun cluster and enable data parallelism (after ``runtime.configure(mode="graph")``)."""
    cluster = join("train")
    import mindspore as ms

    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True)
    return cluster
