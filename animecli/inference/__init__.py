"""The inference engine every command uses: one stylizer, one policy (``stylizer``), the graph store
(``graph_store``) and the tiled executor for large pictures (``tiled``).

Entry point: ``stylizer.open_stylizer(weights, StylizeSettings(...))``. This package module imports
nothing, so light code (``anime cache``) can use ``graph_store`` without loading the engine.
"""
