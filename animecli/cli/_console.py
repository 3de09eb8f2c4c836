"""Terminal output: a stderr console, progress bars and summaries (rich).

Everything is shown literally: both consoles have rich markup and emoji codes off and progress descriptions
are plain text, so a file called ``[subsplease] x.mp4``, ``a:cat:.jpg`` or a folder ``y[/i]`` prints as
typed. Styles come from ``Text`` pieces (``labelled``), never from markup in a message.
"""

from __future__ import annotations

import sys
from typing import Mapping, Optional

from rich.console import Console
from rich.table import Column
from rich.text import Text
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

err_console = Console(stderr=True, highlight=False, markup=False, emoji=False)
out_console = Console(highlight=False, markup=False, emoji=False)


def _fixed() -> Column:
    """A progress column that keeps its full width: when the line is short, the description gives way."""
    return Column(no_wrap=True)


class _DescriptionColumn(ProgressColumn):
    """The task's description as given, cut short with "..." (never wrapped) when the line lacks room."""

    def __init__(self) -> None:
        super().__init__(table_column=Column(overflow="ellipsis"))

    def render(self, task):  # noqa: D102 - rich API
        return Text(task.description, no_wrap=True, overflow="ellipsis")


class _RateColumn(TextColumn):
    """Items per second for the running task."""

    def __init__(self) -> None:
        super().__init__("", table_column=_fixed())

    def render(self, task):  # noqa: D102 - rich API
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "it")
        text = f"{speed:.2f} {unit}/s" if speed else f"? {unit}/s"
        return Text(text, style="progress.data.speed")


class _Progress(Progress):
    """One line per bar, and the running task's named values (e.g. losses) on the line below it.

    Beside the bar, four losses left no room at 80 columns: every column was cut to "..." (issue 14).
    """

    def get_renderables(self):  # noqa: D102 - rich API
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            if task.fields.get("shown"):
                yield Text(task.fields["shown"])


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
        bar = BarColumn(bar_width=None, table_column=Column(ratio=1, no_wrap=True))
        if unit == "bytes":
            columns = [DownloadColumn(table_column=_fixed()), TransferSpeedColumn(table_column=_fixed()),
                       TimeRemainingColumn(table_column=_fixed())]
        else:
            columns = [MofNCompleteColumn(table_column=_fixed()), TaskProgressColumn(table_column=_fixed()),
                       _RateColumn(), TimeElapsedColumn(table_column=_fixed()),
                       TextColumn("eta", table_column=_fixed()), TimeRemainingColumn(table_column=_fixed())]
        self._progress = _Progress(_DescriptionColumn(), bar, *columns, console=self.console, transient=False,
                                   expand=True)
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, unit=unit, shown="")

    def advance(self, amount: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, amount)

    def show_fields(self, fields: Mapping[str, float]) -> None:
        """Show named values (e.g. the current losses) below the running bar; optional Reporter extra."""
        if self._progress is not None:
            self._progress.update(self._task, shown="  ".join(f"{k} {v:.4g}" for k, v in fields.items()))

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if not self.quiet:
            labelled("warning:", "yellow", message, self.console)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None


def labelled(label: str, style: str, message, console: Optional[Console] = None) -> None:
    """Print ``label message`` on one line, the label styled and the message exactly as given."""
    (console or err_console).print(Text.assemble((label, style), " ", str(message)), soft_wrap=True)


def error(message: str, hint: str = "") -> None:
    """Print a one-line error (and an optional hint) on stderr."""
    labelled("error:", "bold red", message)
    if hint:
        labelled("hint:", "dim", hint)


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
            labelled("skipped", "dim", f"{path}: {reason}")
    for path, reason in failed:
        labelled("failed", "red", reason if str(reason).startswith(str(path)) else f"{path}: {reason}")
