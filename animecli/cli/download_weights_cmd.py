"""``anime download-weights``: fetch named pretrained weights into the cache, list them, verify them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from animecli.cli import _console, _options
from animecli.errors import AnimeError, InvalidInputError


def command(
    names: Annotated[Optional[List[str]], typer.Argument(
        metavar="NAMES", show_default=False,
        help="Weights to fetch, e.g. Hayao Shinkai face_paint_512_v2 vgg19 (default: Hayao; see --list).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every entry of the registry.")] = False,
    list_: Annotated[bool, typer.Option("--list", "-l", help="Show the registry and what is in the cache.")] = False,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Re-hash downloaded weights against the manifest (exit 1 if any is corrupt).")] = False,
    keep_source: Annotated[bool, typer.Option(
        "--keep-source", help="Keep the original files beside the converted .ckpt.")] = False,
    cache_dir: _options.CacheDir = None,
    quiet: _options.Quiet = False,
) -> None:
    """Download pretrained weights once, verify and convert them: [bold]anime download-weights Shinkai[/]."""
    from animecli.weights import registry

    if list_ and verify:
        raise InvalidInputError("give --list or --verify, not both")
    if keep_source and (list_ or verify):
        raise InvalidInputError("--keep-source applies to downloads, not to --list or --verify")
    if all_ and names:
        raise InvalidInputError("give NAMES or --all, not both")
    entries = list(registry.entries()) if all_ else [registry.get(n) for n in dict.fromkeys(names or [])]
    if list_:
        _print_table(entries or list(registry.entries()), cache_dir)
    elif verify:
        _verify(entries, cache_dir, quiet)
    else:
        _download(entries or [registry.get(registry.DEFAULT_STYLE)], cache_dir, keep_source, quiet)


def _download(entries, cache_dir: Optional[Path], keep_source: bool, quiet: bool) -> None:
    from animecli.weights import cache

    reporter = _console.RichReporter(quiet=quiet)
    failed = []
    for entry in entries:
        was_present = cache.state(entry, cache_dir).present
        try:
            path = cache.ensure_weights(entry.name, cache_dir=cache_dir, reporter=reporter,
                                        keep_source=keep_source)
        except AnimeError as err:
            if len(entries) == 1:
                raise
            failed.append((entry.name, err))
            continue
        finally:
            reporter.stop()
        _console.out_console.print(str(path), soft_wrap=True)
        how = "already in the cache, verified" if was_present else "downloaded, verified"
        _console.info(f"{entry.name}: {how} (licence: {entry.licence})", quiet=quiet)
    for name, err in failed:
        _console.error(f"{name}: {err}", getattr(err, "hint", ""))
    if failed:
        _console.info(f"{len(entries) - len(failed)} ready, {len(failed)} failed", quiet=quiet)
        raise typer.Exit(1)


def _verify(entries, cache_dir: Optional[Path], quiet: bool) -> None:
    from animecli.weights import cache, registry

    if not entries:
        entries = [e for e in registry.entries() if cache.state(e, cache_dir).manifest is not None]
        if not entries:
            _console.info(f"nothing downloaded yet in {cache.cache_root(cache_dir) / 'weights'}", quiet=quiet)
            return
    bad = 0
    for entry in entries:
        problems = cache.verify(entry, cache_dir)
        if problems:
            bad += 1
            _console.out_console.print(f"{entry.name}: FAILED: {'; '.join(problems)}", soft_wrap=True)
        else:
            path = cache.state(entry, cache_dir).path
            _console.out_console.print(f"{entry.name}: ok {path}", soft_wrap=True)
    if bad:
        _console.error(f"{bad} of {len(entries)} cached weights failed verification",
                       "`anime download-weights NAME` fetches a corrupt entry again")
        raise typer.Exit(1)


def _print_table(entries, cache_dir: Optional[Path]) -> None:
    from rich import box
    from rich.filesize import decimal
    from rich.table import Table

    from animecli.weights import cache, registry

    table = Table(title="Pretrained weights", box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False,
                  show_edge=False, collapse_padding=True,
                  caption=f"* default style; (src): original files kept. "
                          f"Cache: {cache.cache_root(cache_dir) / 'weights'}")
    for column in ("name", "kind", "source", "size", "downloaded", "licence"):
        table.add_column(column, no_wrap=True)
    for entry in entries:
        current = cache.state(entry, cache_dir)
        kind = "style" if entry.kind == "generator" else entry.kind
        size = decimal(entry.known_size) if entry.known_size else f"~{decimal(entry.approx_size)}"
        downloaded = "no"
        if current.present:
            downloaded = "yes (src)" if current.source_kept and entry.kind == "generator" else "yes"
        name = entry.name + (" *" if entry.name == registry.DEFAULT_STYLE else "")
        table.add_row(name, kind, entry.source, size, downloaded, entry.licence)
    _console.out_console.print(table)
