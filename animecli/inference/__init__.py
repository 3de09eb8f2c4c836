"""The inference engine every command uses: one stylizer, one policy (``stylizer``), the graph store
(``graph_store``) and the tiled executor for large pictures (``tiled``).

Entry point: ``stylizer.open_stylizer(weights, StylizeSettings(...))``; ``anime infer`` carries those
settings inside its one frozen ``pipelines.infer.InferOptions``. This package module imports
nothing, so light code (``anime cache``) can use ``graph_store`` without loading the engine.
"""
