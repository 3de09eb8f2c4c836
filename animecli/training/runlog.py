"""The per-step loss log of a run: one JSON object per line (``log.jsonl``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

from animecli.files import atomic_write_bytes


class LossLog:
    """Appends one record per step and keeps them in memory for the plots.

    A record is ``{"step": global step (1-based), "epoch": 1-based, "phase": "init"|"gan", "time": seconds
    of training so far, <loss name>: value, ...}``.
    """

    def __init__(self, path: Path, keep_until_step: int = 0):
        """Open ``path``; records after ``keep_until_step`` (left by a run that stopped after its last
        checkpoint) are dropped so a resumed run's curve continues from the checkpoint."""
        self.path = Path(path)
        self.records: List[Dict] = []
        if self.path.exists() and keep_until_step > 0:
            with open(self.path, encoding="utf-8") as handle:
                for line in handle:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut short by a crash
                    if record.get("step", 0) <= keep_until_step:
                        self.records.append(record)
        self._rewrite()
        self._handle = open(self.path, "a", encoding="utf-8")

    def _rewrite(self) -> None:
        lines = "".join(json.dumps(record) + "\n" for record in self.records)
        atomic_write_bytes(self.path, lines.encode("utf-8"))

    def append(self, record: Dict) -> None:
        """Add one step's record and flush it to disk."""
        self.records.append(record)
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file (records stay readable in memory)."""
        self._handle.close()
