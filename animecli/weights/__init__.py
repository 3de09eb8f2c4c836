"""The checkpoint layer: weight formats, conversion, registry and cache."""
