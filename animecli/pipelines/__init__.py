"""Pipelines: the work behind each command. They take a Reporter and return a result; they never print."""
