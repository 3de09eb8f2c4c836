"""Training AnimeGANv2: configuration, data, compiled D/G steps, the training loop, data-parallel set-up."""
