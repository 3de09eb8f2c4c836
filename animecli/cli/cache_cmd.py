"""``anime cache``: show the size of the compiled-graph cache, or clear it."""

from __future__ import annotations

import typer

from animecli.cli import _console
from animecli.cli._help import FlagCommand, FlagGroup

app = typer.Typer(cls=FlagGroup, help="Compiled graphs kept between runs (the weights cache is not touched).",
                  no_args_is_help=True)


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


@app.command("info", cls=FlagCommand)
def info() -> None:
    """Show where the compiled graphs are kept and how much room they take."""
    from animecli.inference import graph_store

    graphs = graph_store.stored_graphs()
    graph_bytes = sum(path.stat().st_size for path in graphs)
    files, total = graph_store.folder_size(graph_store.compile_cache_dir())
    _console.out_console.print(
        f"{graph_store.compile_cache_dir()}\n"
        f"graphs: {len(graphs)}, {_megabytes(graph_bytes)} (budget {_megabytes(graph_store.BUDGET_BYTES)}, "
        f"least recently used out first)\n"
        f"total with MindSpore's kernel cache: {files} files, {_megabytes(total)}",
        markup=False, soft_wrap=True)


@app.command("clear", cls=FlagCommand)
def clear() -> None:
    """Remove the compiled graphs and kernels; the next run compiles again (a few seconds per picture size)."""
    from animecli.inference import graph_store

    files, total = graph_store.clear()
    _console.out_console.print(f"removed {files} files, {_megabytes(total)} from {graph_store.compile_cache_dir()}",
                               markup=False, soft_wrap=True)
