"""The end-of-batch summary shared by the file-batch commands."""

from __future__ import annotations

from animecli.cli import _console


def report_batch(result, quiet: bool) -> int:
    """Print failures (always) and a one-line summary (unless quiet); return the exit code.

    ``result`` is a pipeline's ``BatchResult``; the exit code is 1 when anything failed.
    """
    from animecli.pipelines._batch import OUTPUT_EXISTS

    for _, message in result.failed:
        _console.error(message)
    existing = sum(1 for _, reason in result.skipped if reason == OUTPUT_EXISTS)
    line = (f"{len(result.done)} done, {len(result.skipped)} skipped, {len(result.failed)} failed "
            f"in {result.seconds:.1f} s")
    if existing:
        line += f" ({existing} already done: --overwrite redoes them)"
    if not (result.done or result.skipped or result.failed):
        line = "nothing to do: no images found"
    _console.info(line, quiet)
    return 1 if result.failed else 0
