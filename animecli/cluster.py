"""Joining MindSpore's own dynamic cluster (``msrun``): the part ``anime train`` and ``anime infer`` share.

``msrun --worker_num=N --local_worker_num=N --master_port=PORT --log_dir=DIR $(which anime) COMMAND ...
--distributed`` starts a scheduler and N workers running the same command. ``join`` then calls
``mindspore.communication.init()``; in the scheduler process that call serves the cluster and never
returns, so it must come before anything with side effects. Collectives on CPU are limited: all-reduce
only sums (float32/float16) and all-gather takes float32, float16 or int32, so ``Cluster`` offers a sum
and a gather of bytes built on those two.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Sequence

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
        """Whether this worker writes the run's shared files and prints the summary."""
        return self.rank == 0

    def sum(self, values: Sequence[float]) -> np.ndarray:
        """The element-wise sum of ``values`` over the workers (exact for integers below 2**24)."""
        array = np.asarray(values, dtype=np.float32)
        if self.world_size == 1:
            return array
        import mindspore as ms
        from mindspore import ops

        return ops.AllReduce(ops.ReduceOp.SUM)(ms.Tensor(array)).asnumpy()

    def barrier(self) -> None:
        """Return once every worker has got here."""
        self.sum([0.0])

    def gather_bytes(self, data: bytes) -> List[bytes]:
        """Every worker's ``data``, in rank order, on every worker (two collectives: lengths, then bytes)."""
        if self.world_size == 1:
            return [bytes(data)]
        import mindspore as ms
        from mindspore import ops

        lengths = np.zeros(self.world_size, dtype=np.float32)
        lengths[self.rank] = len(data)
        lengths = self.sum(lengths).astype(np.int64)
        padded = np.zeros(int(lengths.max()) or 1, dtype=np.float32)  # bytes as float32: exact
        padded[:len(data)] = np.frombuffer(data, dtype=np.uint8)
        gathered = ops.AllGather()(ms.Tensor(padded)).asnumpy().reshape(self.world_size, -1)
        return [row[:length].astype(np.uint8).tobytes() for row, length in zip(gathered, lengths)]


def launched_by_msrun() -> bool:
    """Whether the environment of MindSpore's launcher is present."""
    return all(os.environ.get(name) for name in _LAUNCHER_VARS)


def require_launcher(command: str) -> None:
    """Raise the error that says how to start ``anime COMMAND --distributed`` unless msrun started us."""
    if not launched_by_msrun():
        raise InvalidInputError(
            "--distributed needs MindSpore's launcher",
            hint="run e.g. `msrun --worker_num=2 --local_worker_num=2 --master_port=8118 --log_dir=/tmp/anime_logs "
                 f"$(which anime) {command} ... --distributed`",
        )


def join(command: str) -> Cluster:
    """Join the msrun cluster (after ``runtime.configure``); ``command`` names the anime command in the hint."""
    require_launcher(command)
    from mindspore.communication import get_group_size, get_rank, init

    init()  # the scheduler process stays in here
    return Cluster(rank=get_rank(), world_size=get_group_size())
