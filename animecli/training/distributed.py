"""Data-parallel training on MindSpore's own dynamic cluster (``msrun``), CPU, GPU or Ascend.

``msrun --worker_num=N --local_worker_num=N --master_port=PORT --log_dir=DIR $(which anime) train ...
--distributed`` starts a scheduler and N workers running the same command. ``join_cluster`` then calls
``mindspore.communication.init()`` (in the scheduler process that call serves the cluster and never
returns, so it must come before anything with side effects) and switches to ``DATA_PARALLEL`` with
mean-reduced gradients. Each worker trains on its own shard of every epoch (see ``BatchStream``); rank 0
writes the checkpoints and logs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from animecli.errors import InvalidInputError

_LAUNCHER_VARS = ("MS_ROLE", "MS_WORKER_NUM", "MS_SCHED_HOST", "MS_SCHED_PORT")


@dataclass(frozen=True)
class Cluster:
    """This process's place among the workers (a single process is rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_writer(self) -> bool:
        """Whether this worker writes the run's files."""
        return self.rank == 0

    def agree(self, code: int) -> int:
        """Combine the workers' stop requests (0 none, 1 step limit, 2 Ctrl-C): the most urgent wins."""
        if self.world_size == 1:
            return int(code)
        import mindspore as ms
        from mindspore import ops

        # CPU all-reduce only sums: count the workers asking for each reason.
        flags = np.array([code == 1, code == 2], dtype=np.float32)
        total = ops.AllReduce(ops.ReduceOp.SUM)(ms.Tensor(flags)).asnumpy()
        return 2 if total[1] > 0 else 1 if total[0] > 0 else 0


def launched_by_msrun() -> bool:
    """Whether the environment of MindSpore's launcher is present."""
    return all(os.environ.get(name) for name in _LAUNCHER_VARS)


def join_cluster() -> Cluster:
    """Join the msrun cluster and enable data parallelism (after ``runtime.configure(mode="graph")``)."""
    if not launched_by_msrun():
        raise InvalidInputError(
            "--distributed needs MindSpore's launcher",
            hint="run e.g. `msrun --worker_num=2 --local_worker_num=2 --master_port=8118 --log_dir=/tmp/anime_logs "
                 "$(which anime) train ... --distributed`",
        )
    import mindspore as ms
    from mindspore.communication import get_group_size, get_rank, init

    init()  # the scheduler process stays in here
    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True)
    return Cluster(rank=get_rank(), world_size=get_group_size())
