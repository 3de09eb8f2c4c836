"""The checkpoint layer: weight formats, conversion tables, the registry, the cache and resolution."""
