"""Pipelines: do one command's work on files, report progress through a ``Reporter``, return a result."""
