"""A Reporter for tests: it keeps what the pipelines tell it."""

from __future__ import annotations


class Recorder:
    """A Reporter that keeps what it is told."""

    def __init__(self):
        self.total, self.done, self.warnings = None, 0, []

    def start(self, description, total, unit="items"):
        self.total = total

    def advance(self, amount=1):
        self.done += amount

    def warn(self, message):
        self.warnings.append(message)

    def stop(self):
        pass
