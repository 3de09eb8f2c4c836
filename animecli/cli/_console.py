"""Terminal output: a stderr console, progress bars and summaries (rich)."""

from __future__ import annotations

import sys
from typing import Mapping, Optional

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)


class _RateColumn(TextColumn):
    """Items per second for the running task."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):  # noqa: D102 - rich API
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "it")
        text = f"{speed:.2f} {unit}/s" if speed else f"? {unit}/s"
        from rich.text import Text

        return Text(text, style="progress.data.speed")


class RichReporter:
    """A ``Reporter`` drawing rich progress bars on stderr; silent when quiet or not a TTY."""

    def __init__(self, quiet: bool = False, console: Optional[Console] = None):
        self.console = console or err_console
        self.quiet = quiet
        self.show_bars = not quiet and self.console.is_terminal
        self.warnings: list = []
        self._progress: Optional[Progress] = None
        self._task = None

    def start(self, description: str, total: Optional[float], unit: str = "items") -> None:
        self.stop()
        if not self.show_bars:
            return
        if unit == "bytes":
            columns = [TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                       TransferSpeedColumn(), TimeRemainingColumn()]
        else:
            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TaskProgressColumn(), _RateColumn(), TimeElapsedColumn(),
                       TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[shown]}")]
        self._progress = Progress(*columns, console=self.console, transient=False)
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, unit=unit, shown="")

    def advance(self, amount: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, amount)

    def show_fields(self, fields: Mapping[str, float]) -> None:
        """Show named values (e.g. the current losses) after the running bar; optional Reporter extra."""
        if self._progress is not None:
            self._progress.update(self._task, shown="  ".join(f"{k} {v:.4g}" for k, v in fields.items()))

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if not self.quiet:
            self.console.print(f"[yellow]warning:[/] {message}", markup=True, soft_wrap=True)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None


def error(message: str, hint: str = "") -> None:
    """Print a one-line error (and an optional hint) on stderr."""
    err_console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    if hint:
        err_console.print(f"[dim]hint:[/] {hint}", markup=True, soft_wrap=True)


def info(message: str, quiet: bool = False) -> None:
    """Print an informational line on stderr unless quiet."""
    if not quiet:
        err_console.print(message, soft_wrap=True)


def is_interactive() -> bool:
    """Whether stderr is a terminal."""
    return sys.stderr.isatty()


def print_summary(title: str, done: int, skipped, failed, seconds: float, quiet: bool = False,
                  unit: str = "images") -> None:
    """A final table: counts of done / skipped / failed and the wall time, then each failure's reason."""
    from rich.table import Table

    if not quiet:
        table = Table(title=title, show_header=True, header_style="bold")
        for column in ("done", "skipped", "failed", "time", "rate"):
            table.add_column(column, justify="right")
        rate = f"{done / seconds:.2f} {unit}/s" if seconds > 0 and done else "-"
        table.add_row(str(done), str(len(skipped)), str(len(failed)), f"{seconds:.1f} s", rate)
        err_console.print(table)
        for path, reason in skipped:
            err_console.print(f"[dim]skipped[/] {path}: {reason}", markup=True, soft_wrap=True)
    for path, reason in failed:
        message = reason if str(reason).startswith(str(path)) else f"{path}: {reason}"
        err_console.print(f"[red]failed[/] {message}", markup=True, soft_wrap=True)
