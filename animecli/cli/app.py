"""The ``anime`` application: command wiring, global options and error -> message mapping.

Importing this module must stay cheap: commands import the core (and MindSpore) lazily.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import List, Optional

import typer

from animecli import __version__
from animecli.cli import _console
from animecli.cli._help import FlagCommand, FlagGroup

app = typer.Typer(
    name="anime",
    cls=FlagGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        _console.out_console.print(f"animecli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_print_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Turn photos and videos into anime-style pictures with AnimeGANv2, and train new styles."""


def _register_commands() -> None:
    """Each command lives in its own module, ``animecli/cli/<name>_cmd.py``, exposing ``command`` (and
    optionally ``CONTEXT_SETTINGS``, e.g. a ``token_normalize_func`` for legacy option spellings), or
    ``app``, a Typer of sub-commands (``anime cache info``)."""
    import importlib

    for name in COMMANDS:
        module = importlib.import_module(f"animecli.cli.{name.replace('-', '_')}_cmd")
        if hasattr(module, "app"):
            app.add_typer(module.app, name=name)
        else:
            app.command(name, cls=FlagCommand, context_settings=getattr(module, "CONTEXT_SETTINGS", None))(module.command)


COMMANDS: List[str] = ["infer", "video", "smooth", "brightness", "train", "download-weights", "export", "cache"]
_register_commands()


def run(argv: Optional[List[str]] = None) -> int:
    """Run the CLI with ``argv`` and return the exit code (errors become one-line messages)."""
    from animecli import runtime, settings
    from animecli.errors import AnimeError

    runtime.prepare_environment()  # before anything imports MindSpore: its logs and caches out of the cwd
    try:
        with _terminate_as_interrupt():
            app(args=argv, prog_name="anime")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except AnimeError as exc:
        if settings.debug():
            raise
        _console.error(str(exc), getattr(exc, "hint", ""))
        return 1
    return 0


@contextlib.contextmanager
def _terminate_as_interrupt():
    """Turn SIGTERM into KeyboardInterrupt, so every command cleans up (temporary files, ffmpeg).

    A Ctrl-C that lands while MindSpore runs a graph reaches its own SIGINT handler, which ends the
    process with SIGTERM; batch schedulers send SIGTERM too. ``anime train`` arms its own handler
    (save, then stop) while it trains.
    """
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main() -> None:
    """Console-script entry point."""
    from animecli import runtime

    code = run()
    if runtime.teardown_skippable():
        # MindSpore's teardown at interpreter exit has nothing of ours to finish (its cost: docs/performance.md).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
