"""Readers of weight file formats; each returns ``{name: numpy array}`` in the source's own naming."""
