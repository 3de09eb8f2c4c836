"""How the core reports progress without printing: pipelines call a ``Reporter``."""

from __future__ import annotations

from typing import Optional, Protocol


class Reporter(Protocol):
    """Receives progress from a pipeline; the CLI renders it, tests may record it."""

    def start(self, description: str, total: Optional[float], unit: str = "items") -> None:
        """Begin a unit of work with ``total`` steps (None when unknown)."""

    def advance(self, amount: float = 1) -> None:
        """Mark ``amount`` steps as done."""

    def warn(self, message: str) -> None:
        """Report something the user should know (a skipped file, a fallback)."""

    def stop(self) -> None:
        """End the current unit of work."""

    # Optional extra, looked up with getattr (not every reporter has it):
    # ``show_fields(fields: Mapping[str, float])`` shows named values, e.g. losses, beside the progress.


class NullReporter:
    """A reporter that ignores everything (library use, tests)."""

    def start(self, description: str, total: Optional[float], unit: str = "items") -> None:
        pass

    def advance(self, amount: float = 1) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def stop(self) -> None:
        pass
