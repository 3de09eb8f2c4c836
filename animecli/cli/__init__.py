"""The ``anime`` command line: parse, call the core, render."""
