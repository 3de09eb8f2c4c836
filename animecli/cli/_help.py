"""Click classes for every ``anime`` command and group: help shows flags without a value type.

typer 0.2x labels each flag ``<bool>`` in ``--help``, which reads like a value to type and, at 80
columns, pushed long option names out of the table.
"""

from __future__ import annotations

from typer.core import TyperCommand, TyperGroup


def _untyped_flags(params):
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class FlagCommand(TyperCommand):
    """A command whose help shows flags without a value type."""

    def get_params(self, ctx):
        return _untyped_flags(super().get_params(ctx))


class FlagGroup(TyperGroup):
    """A group (``anime``, ``anime cache``) whose help shows flags without a value type."""

    def get_params(self, ctx):
        return _untyped_flags(super().get_params(ctx))
